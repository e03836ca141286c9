// The index's search structures: words as ids, every document's tokens, the sorted dictionary
// with its postings, and facet columns; rebuilt by the first search after a write, tokenizing
// again only the documents the write changed.
#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "search_engine.hpp"

namespace devnode {

// Words met in an index's documents, each with an id that stays the same from one rebuild of
// the search structures to the next (while the searchable fields do), so that a rebuild works
// on integers. Words no document holds any more keep their id.
struct WordTable {
    std::deque<std::string> words;  // by id; a deque keeps them in place for `ids`' keys
    std::unordered_map<std::string_view, std::uint32_t> ids;
    std::vector<std::uint32_t> sorted;  // ids in word order (those met since: see sort())
    std::uint32_t intern(std::string word) {
        if (auto it = ids.find(word); it != ids.end()) return it->second;
        const auto id = static_cast<std::uint32_t>(words.size());
        words.push_back(std::move(word));
        ids.emplace(words.back(), id);
        return id;
    }
    // Brings `sorted` up to date: only the words met since the last call are sorted.
    void sort() {
        const auto before = [this](std::uint32_t a, std::uint32_t b) {
            return words[a] < words[b];
        };
        const auto old = static_cast<std::ptrdiff_t>(sorted.size());
        for (auto id = static_cast<std::uint32_t>(sorted.size()); id < words.size(); ++id)
            sorted.push_back(id);
        std::sort(sorted.begin() + old, sorted.end(), before);
        std::inplace_merge(sorted.begin(), sorted.begin() + old, sorted.end(), before);
    }
};

// One document's searchable tokens as word ids, attribute after attribute.
struct SlotTokens {
    std::vector<std::uint32_t> words;
    std::vector<std::uint32_t> ends;  // by searchable attribute: the end of its tokens
};

namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

// Tokenizes the searchable values of a document, in searchable-attribute order.
SlotTokens slot_tokens(const json& doc, const std::vector<std::string>& fields, WordTable& table) {
    SlotTokens out;
    for (const auto& f : fields) {
        std::function<void(const json&)> add = [&](const json& v) {
            if (v.is_string()) {
                for (auto& t : tokenize(v.get<std::string>()))
                    out.words.push_back(table.intern(std::move(t)));
            } else if (v.is_number()) {
                out.words.push_back(table.intern(v.dump()));
            } else if (v.is_boolean()) {
                out.words.push_back(table.intern(v.get<bool>() ? "true" : "false"));
            } else if (v.is_array() || v.is_object()) {
                for (const auto& i : v) add(i);
            }
        };
        for (const json* v : field_values(doc, f)) add(*v);
        out.ends.push_back(static_cast<std::uint32_t>(out.words.size()));
    }
    return out;
}

// The index's fields in the order they were first seen (Meilisearch's field-id order).
std::vector<std::string> all_fields(const Index& index) {
    std::vector<std::string> out;
    std::unordered_set<std::string_view> seen;
    // the index counts its distinct fields: the walk stops once it has met them all
    const std::size_t known = index.field_counts.size() - index.field_counts.count("_vectors");
    for (const auto& slot : index.slots) {
        if (out.size() == known) break;
        if (!slot) continue;
        for (auto it = slot->begin(); it != slot->end(); ++it) {
            if (it.key() != "_vectors" && seen.insert(it.key()).second) out.push_back(it.key());
        }
    }
    return out;
}

FacetColumn facet_column(const Index& index, const std::string& field) {
    FacetColumn column;
    // first with provisional ids, in the order values are met
    std::map<double, std::uint32_t> numbers;
    std::map<std::string, std::uint32_t> strings;  // normalized form → provisional id
    std::unordered_map<std::string, std::uint32_t> spellings;
    struct Raw {
        bool number;
        std::uint32_t id;
        std::uint32_t spelling;
    };
    std::vector<Raw> raw;
    column.start.reserve(index.slots.size() + 1);
    column.present.assign(index.slots.size(), 0);
    for (std::uint32_t slot = 0; slot < index.slots.size(); ++slot) {
        column.start.push_back(static_cast<std::uint32_t>(raw.size()));
        if (!index.slots[slot]) continue;
        const std::size_t first = raw.size();
        for (const json* v : field_values(*index.slots[slot], field)) {
            column.present[slot] = 1;
            Raw r{};
            if (v->is_number()) {
                r = {true, numbers.emplace(v->get<double>(), numbers.size()).first->second, 0};
            } else if (v->is_string() || v->is_boolean()) {
                const std::string original =
                    v->is_string() ? v->get<std::string>() : (v->get<bool>() ? "true" : "false");
                const auto id = strings.emplace(normalize(original), strings.size()).first->second;
                const auto spelling = spellings.emplace(original, spellings.size()).first->second;
                r = {false, id, static_cast<std::uint32_t>(spelling)};
            } else {
                continue;
            }
            // a document counts once per value
            const bool seen =
                std::any_of(raw.begin() + static_cast<std::ptrdiff_t>(first), raw.end(),
                            [&](const Raw& o) { return o.number == r.number && o.id == r.id; });
            if (!seen) raw.push_back(r);
        }
    }
    column.start.push_back(static_cast<std::uint32_t>(raw.size()));
    // then the final ids, in value order
    std::vector<std::uint32_t> number_id(numbers.size()), string_id(strings.size());
    for (const auto& [number, provisional] : numbers) {
        number_id[provisional] = static_cast<std::uint32_t>(column.numbers.size());
        column.numbers.push_back(number);
    }
    std::uint32_t next = static_cast<std::uint32_t>(numbers.size());
    for (const auto& [norm, provisional] : strings) string_id[provisional] = next++;
    column.values = next;
    column.spellings.resize(spellings.size());
    for (auto& [original, id] : spellings) column.spellings[id] = original;
    column.entries.reserve(raw.size());
    for (const Raw& r : raw) {
        column.entries.push_back({r.number ? number_id[r.id] : string_id[r.id], r.spelling});
    }
    return column;
}

// The searchable fields in ranking order: every field, first seen first, for "*".
std::vector<std::string> searchable_fields(const json& settings,
                                           const std::vector<std::string>& all) {
    const auto& searchable_setting = settings["searchableAttributes"];
    return searchable_setting == json::array({"*"})
               ? all
               : searchable_setting.get<std::vector<std::string>>();
}

// Every document's tokens as word ids. The stale structures' tokens serve again for the slots
// that did not change, when the searchable fields are the same.
void tokenize_slots(const Index& index, SearchCache& cache) {
    auto stale = std::static_pointer_cast<SearchCache>(index.stale_cache);
    if (stale && stale->fields != cache.fields) stale.reset();
    std::vector<char> changed;
    if (stale) {
        changed.assign(index.slots.size(), 0);
        for (auto slot : index.changed_slots) {
            if (slot < changed.size()) changed[slot] = 1;
        }
    }
    cache.table = stale ? stale->table : std::make_shared<WordTable>();
    WordTable& table = *cache.table;
    cache.slot_words.resize(index.slots.size());
    for (std::uint32_t slot = 0; slot < index.slots.size(); ++slot) {
        if (!index.slots[slot]) continue;
        auto& words = cache.slot_words[slot];
        if (stale && !changed[slot] && slot < stale->slot_words.size())
            words = stale->slot_words[slot];
        if (!words) {
            words = std::make_shared<const SlotTokens>(
                slot_tokens(*index.slots[slot], cache.fields, table));
        }
    }
    index.stale_cache.reset();
    index.changed_slots.clear();
}

// By word id: how many documents hold the word (each document once).
std::vector<std::uint32_t> documents_per_word(const SearchCache& cache) {
    const std::size_t words = cache.table->words.size();
    std::vector<std::uint32_t> count(words, 0), last(words, kNone);
    for (std::uint32_t slot = 0; slot < cache.slot_words.size(); ++slot) {
        if (!cache.slot_words[slot]) continue;
        for (const auto w : cache.slot_words[slot]->words) {
            if (last[w] != slot) {
                last[w] = slot;
                ++count[w];
            }
        }
    }
    return count;
}

// The dictionary (the words some document holds, sorted) and where each word's postings
// start. Returns each word id's position in the dictionary (kNone when no document holds it).
std::vector<std::uint32_t> build_dictionary(SearchCache& cache,
                                            const std::vector<std::uint32_t>& count) {
    WordTable& table = *cache.table;
    table.sort();
    std::vector<std::uint32_t> held;
    for (const auto w : table.sorted) {
        if (count[w] > 0) held.push_back(w);
    }
    std::vector<std::uint32_t> position(table.words.size(), kNone);
    cache.posting_start.reserve(held.size() + 1);
    std::uint32_t total = 0;
    for (std::uint32_t i = 0; i < held.size(); ++i) {
        position[held[i]] = i;
        cache.lexicon.push_back(table.words[held[i]]);
        cache.posting_start.push_back(total);
        total += count[held[i]];
    }
    cache.posting_start.push_back(total);
    return position;
}

// The postings, filled in slot order; and every slot's tokens as dictionary positions.
void index_tokens(SearchCache& cache, const std::vector<std::uint32_t>& position) {
    cache.posting_slots.resize(cache.posting_start.back());
    std::vector<std::uint32_t> cursor(cache.posting_start.begin(), cache.posting_start.end() - 1);
    std::vector<std::uint32_t> last(cache.table->words.size(), kNone);
    const std::size_t width = cache.fields.size() + 1;
    cache.token_start.reserve(cache.slot_words.size() * width);
    for (std::uint32_t slot = 0; slot < cache.slot_words.size(); ++slot) {
        const SlotTokens* words = cache.slot_words[slot].get();
        std::uint32_t begin = 0;
        for (std::size_t a = 0; a + 1 < width; ++a) {
            cache.token_start.push_back(static_cast<std::uint32_t>(cache.token_ids.size()));
            if (!words) continue;
            for (; begin < words->ends[a]; ++begin) {
                const auto w = words->words[begin];
                cache.token_ids.push_back(position[w]);
                if (last[w] != slot) {
                    last[w] = slot;
                    cache.posting_slots[cursor[position[w]]++] = slot;
                }
            }
        }
        cache.token_start.push_back(static_cast<std::uint32_t>(cache.token_ids.size()));
    }
}

}  // namespace

const FacetColumn& SearchCache::facet(const Index& index, const std::string& field) const {
    auto& column = facets[field];
    if (!column) column = std::make_shared<const FacetColumn>(facet_column(index, field));
    return *column;
}

const SearchCache& cache_of(const Index& index) {
    if (index.search_cache) return *std::static_pointer_cast<SearchCache>(index.search_cache);
    auto cache = std::make_shared<SearchCache>();
    cache->all_fields = all_fields(index);
    cache->fields = searchable_fields(index.settings, cache->all_fields);
    tokenize_slots(index, *cache);
    const auto position = build_dictionary(*cache, documents_per_word(*cache));
    index_tokens(*cache, position);
    index.search_cache = cache;
    return *cache;
}

std::vector<std::string> tokenize(std::string_view text) {
    std::vector<std::string> out;
    std::string cur;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (std::isalnum(c) || c >= 0x80) {
            cur.push_back(static_cast<char>(c));
        } else if (!cur.empty()) {
            out.push_back(fold_word(cur));
            cur.clear();
        }
    }
    if (!cur.empty()) out.push_back(fold_word(cur));
    return out;
}

}  // namespace devnode
