// Keyword search: candidates by matching strategy, bucket sort by ranking rules, details,
// scores, facets, distinct, pagination and hit formatting.
//
// The model (documented in devnode/README.md): each ranking rule gives a document a rank out
// of a maximum; rules are applied in order (ties go to the next rule, then to internal id);
// the score folds the ranks lexicographically. The typo rule's maximum depends on which typo
// variants of the query words exist in this node's own dictionary, as in Meilisearch, so the
// same query can be normalized differently on different nodes.
#include "search.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "filter.hpp"
#include "fuzzy.hpp"

namespace devnode {

namespace {

constexpr std::size_t kMaxQueryWords = 10;
constexpr int kMaxProximityCost = 7;
constexpr int kMaxPositionCost = 10;
// Meilisearch counts facet values document by document up to this many candidates
// (`CANDIDATES_THRESHOLD` in milli's facet_distribution.rs), and through its facet levels past it.
constexpr std::size_t kFacetCandidatesThreshold = 3000;

// Meilisearch keeps the first 16 positions of a word in an attribute exact and groups the
// others (16–23 as 24, then by power of two).
int bucketed_position(int position) {
    if (position < 16) return position;
    if (position < 24) return 24;
    int bucket = 32;
    while (bucket < position) bucket *= 2;
    return bucket;
}

// The position rule's cost of a word at `position` for the query word at `query_position`.
int position_cost(int position, int query_position) {
    const int distance = std::abs(bucketed_position(position) - query_position);
    // the smallest distance of each cost, 0 to kMaxPositionCost
    static constexpr std::array<int, kMaxPositionCost + 1> kFrom = {0,  1,  2,  5,   8,   12,
                                                                    17, 25, 65, 257, 1025};
    int cost = 0;
    while (cost < kMaxPositionCost && distance >= kFrom[cost + 1]) ++cost;
    return cost;
}

ApiError search_error(const std::string& param, const std::string& message) {
    return error(400, "invalid_search_" + param, message);
}

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

// One facet field's values in every document, as facet distributions and stats count them.
struct FacetColumn {
    // value ids: numbers first, ascending, then strings in the order of their normalized form
    std::vector<double> numbers;
    std::size_t values = 0;
    std::vector<std::string> spellings;  // each original spelling of a string value, once
    struct Entry {
        std::uint32_t value;
        std::uint32_t spelling;  // strings only
    };
    std::vector<Entry> entries;        // each slot's distinct values, slot after slot
    std::vector<std::uint32_t> start;  // by slot: its first entry; start[slot + 1] is its end
    std::vector<char> present;         // by slot: the document has the field, whatever it holds
};

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

// What search derives from an index's documents, built once per change of the index.
struct SearchCache {
    // facet fields' columns, each built by the first search that asks for it
    mutable std::map<std::string, std::shared_ptr<const FacetColumn>> facets;
    const FacetColumn& facet(const Index& index, const std::string& field) const {
        auto& column = facets[field];
        if (!column) column = std::make_shared<const FacetColumn>(facet_column(index, field));
        return *column;
    }
    std::vector<std::string> all_fields;  // first-seen order
    std::vector<std::string> fields;      // the searchable fields, in ranking order
    std::shared_ptr<WordTable> table;
    std::vector<std::shared_ptr<const SlotTokens>> slot_words;  // by slot
    // the dictionary: the words some document holds, sorted, and for each (by position) the
    // slots holding it, ascending
    Lexicon lexicon;
    std::vector<std::uint32_t> posting_start;  // by position; posting_start[n] is the end
    std::vector<std::uint32_t> posting_slots;
    std::span<const std::uint32_t> postings(std::uint32_t position) const {
        return {posting_slots.data() + posting_start[position],
                posting_slots.data() + posting_start[position + 1]};
    }
    // every slot's tokens as dictionary positions, slot after slot, attribute after
    // attribute, in one array: a search reads its candidates' tokens without chasing pointers
    std::vector<std::uint32_t> token_ids;
    // where each slot's attribute starts in token_ids: [slot * (fields + 1) + attribute], the
    // entry after a slot's last attribute being its end
    std::vector<std::uint32_t> token_start;
    std::span<const std::uint32_t> tokens(std::uint32_t slot, std::size_t attribute) const {
        const std::uint32_t* at = &token_start[slot * (fields.size() + 1) + attribute];
        return {token_ids.data() + at[0], token_ids.data() + at[1]};
    }
};

const SearchCache& cache_of(const Index& index) {
    if (index.search_cache) return *std::static_pointer_cast<SearchCache>(index.search_cache);
    auto cache = std::make_shared<SearchCache>();
    cache->all_fields = all_fields(index);
    const auto& searchable_setting = index.settings["searchableAttributes"];
    cache->fields = searchable_setting == json::array({"*"})
                        ? cache->all_fields
                        : searchable_setting.get<std::vector<std::string>>();
    // the stale structures' tokens serve again for the slots that did not change, when the
    // searchable fields are the same
    auto stale = std::static_pointer_cast<SearchCache>(index.stale_cache);
    if (stale && stale->fields != cache->fields) stale.reset();
    std::vector<char> changed;
    if (stale) {
        changed.assign(index.slots.size(), 0);
        for (auto slot : index.changed_slots) {
            if (slot < changed.size()) changed[slot] = 1;
        }
    }
    cache->table = stale ? stale->table : std::make_shared<WordTable>();
    WordTable& table = *cache->table;
    cache->slot_words.resize(index.slots.size());
    for (std::uint32_t slot = 0; slot < index.slots.size(); ++slot) {
        if (!index.slots[slot]) continue;
        auto& words = cache->slot_words[slot];
        if (stale && !changed[slot] && slot < stale->slot_words.size())
            words = stale->slot_words[slot];
        if (!words) {
            words = std::make_shared<const SlotTokens>(
                slot_tokens(*index.slots[slot], cache->fields, table));
        }
    }
    index.stale_cache.reset();
    index.changed_slots.clear();

    // documents per word (each once), then the words some document holds, sorted
    constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
    std::vector<std::uint32_t> count(table.words.size(), 0), last(table.words.size(), kNone);
    for (std::uint32_t slot = 0; slot < cache->slot_words.size(); ++slot) {
        if (!cache->slot_words[slot]) continue;
        for (const auto w : cache->slot_words[slot]->words) {
            if (last[w] != slot) {
                last[w] = slot;
                ++count[w];
            }
        }
    }
    table.sort();
    std::vector<std::uint32_t> held;
    for (const auto w : table.sorted) {
        if (count[w] > 0) held.push_back(w);
    }
    std::vector<std::uint32_t> position(table.words.size(), kNone);
    cache->posting_start.reserve(held.size() + 1);
    std::uint32_t total = 0;
    for (std::uint32_t i = 0; i < held.size(); ++i) {
        position[held[i]] = i;
        cache->lexicon.push_back(table.words[held[i]]);
        cache->posting_start.push_back(total);
        total += count[held[i]];
    }
    cache->posting_start.push_back(total);
    // the postings, filled in slot order; and every slot's tokens as positions
    cache->posting_slots.resize(total);
    std::vector<std::uint32_t> cursor(cache->posting_start.begin(), cache->posting_start.end() - 1);
    std::fill(last.begin(), last.end(), kNone);
    const std::size_t width = cache->fields.size() + 1;
    cache->token_start.reserve(cache->slot_words.size() * width);
    for (std::uint32_t slot = 0; slot < cache->slot_words.size(); ++slot) {
        const SlotTokens* words = cache->slot_words[slot].get();
        std::uint32_t begin = 0;
        for (std::size_t a = 0; a + 1 < width; ++a) {
            cache->token_start.push_back(static_cast<std::uint32_t>(cache->token_ids.size()));
            if (!words) continue;
            for (; begin < words->ends[a]; ++begin) {
                const auto w = words->words[begin];
                cache->token_ids.push_back(position[w]);
                if (last[w] != slot) {
                    last[w] = slot;
                    cache->posting_slots[cursor[position[w]]++] = slot;
                }
            }
        }
        cache->token_start.push_back(static_cast<std::uint32_t>(cache->token_ids.size()));
    }
    index.search_cache = cache;
    return *cache;
}

enum class RuleKind {
    words,
    typo,
    proximity,
    attribute_rank,
    word_position,
    attribute,
    exactness,
    sort,
    custom
};

RuleKind rule_kind(const std::string& rule) {
    if (rule == "words") return RuleKind::words;
    if (rule == "typo") return RuleKind::typo;
    if (rule == "proximity") return RuleKind::proximity;
    if (rule == "attributeRank") return RuleKind::attribute_rank;
    if (rule == "wordPosition") return RuleKind::word_position;
    if (rule == "attribute") return RuleKind::attribute;
    if (rule == "exactness") return RuleKind::exactness;
    if (rule == "sort") return RuleKind::sort;
    return RuleKind::custom;
}

struct SortRule {
    std::string field;
    bool asc = true;
    std::string key;  // "field:asc"
};

// The fields of one rule's entry in _rankingScoreDetails (besides order, score and a sort
// rule's value), kept as plain values: JSON is only built for the hits returned.
struct Details {
    struct Item {
        const char* key = nullptr;
        enum class Type { count, real, text, null } type = Type::count;
        std::uint64_t count = 0;
        double real = 0;
        const char* text = nullptr;
    };
    std::array<Item, 3> items;
    std::size_t size = 0;
    void add(const char* key, std::uint64_t v) {
        items[size++] = {key, Item::Type::count, v, 0, nullptr};
    }
    void add(const char* key, double v) { items[size++] = {key, Item::Type::real, 0, v, nullptr}; }
    void add(const char* key, const char* v) { items[size++] = {key, Item::Type::text, 0, 0, v}; }
    void add_null(const char* key) { items[size++] = {key, Item::Type::null, 0, 0, nullptr}; }
};

struct RuleResult {
    std::string_view name;            // key in _rankingScoreDetails (storage outlives the search)
    double local = 1.0;               // rank / max, for bucket comparison
    std::uint64_t rank = 1, max = 1;  // for the score (relevancy rules only)
    bool relevancy = true;
    // sort rules: the value used
    int sort_class = 0;  // 0 number, 1 string, 2 missing
    double number = 0;
    std::string string;
    bool asc = true;
};

// The value a document sorts by for a field: numbers first, then strings, missing last.
void sort_value(const json& doc, const SortRule& rule, RuleResult& r) {
    const auto values = field_values(doc, rule.field);
    std::optional<double> best_number;
    std::optional<std::string> best_string;
    for (const json* v : values) {
        if (v->is_number()) {
            const double d = v->get<double>();
            if (!best_number || (rule.asc ? d < *best_number : d > *best_number)) best_number = d;
        } else if (v->is_string()) {
            const auto s = normalize(v->get<std::string>());
            if (!best_string || (rule.asc ? s < *best_string : s > *best_string)) best_string = s;
        } else if (v->is_boolean()) {
            const std::string s = v->get<bool>() ? "true" : "false";
            if (!best_string || (rule.asc ? s < *best_string : s > *best_string)) best_string = s;
        }
    }
    r.relevancy = false;
    r.asc = rule.asc;
    r.name = rule.key;
    if (best_number) {
        r.sort_class = 0;
        r.number = *best_number;

    } else if (best_string) {
        r.sort_class = 1;
        r.string = *best_string;

    } else {
        r.sort_class = 2;
    }
}

// Negative when `a` ranks before `b`.
int compare_rule(const RuleResult& a, const RuleResult& b) {
    if (a.relevancy) {
        if (a.local == b.local) return 0;
        return a.local > b.local ? -1 : 1;
    }
    if (a.sort_class != b.sort_class) return a.sort_class < b.sort_class ? -1 : 1;
    if (a.sort_class == 0 && a.number != b.number) {
        return (a.number < b.number) == a.asc ? -1 : 1;
    }
    if (a.sort_class == 1 && a.string != b.string) {
        return (a.string < b.string) == a.asc ? -1 : 1;
    }
    return 0;
}

struct Hit {
    std::uint32_t slot;
    const json* doc;
    std::vector<RuleResult> rules;
    std::vector<Details> details;  // parallel to rules, only when details are asked for
    double score = 1.0;
    bool semantic = false;  // won by the semantic side of a hybrid search
    double weighted = 0;    // hybrid: the score weighted by the semantic ratio
};

std::string number_key(double d) {
    if (std::floor(d) == d && std::abs(d) < 1e15) return std::to_string(static_cast<long long>(d));
    json j = d;
    return j.dump();
}

bool glob(std::string_view pattern, std::string_view s) {
    if (pattern == "*") return true;
    const auto star = pattern.find('*');
    if (star == std::string_view::npos) return pattern == s;
    return s.size() >= pattern.size() - 1 && s.starts_with(pattern.substr(0, star)) &&
           s.ends_with(pattern.substr(star + 1));
}

// Meilisearch's check of a `facets` pattern: some filterable rule must meet it (a field rule
// names it or a parent of it; a pattern rule matches it or is matched by it, so `*` needs a
// pattern rule), else `invalid_search_facets` listing the filterable patterns in one quote.
void check_facet_pattern(const json& filterable, const std::string& pattern) {
    for (const auto& rule : filterable) {
        if (rule.is_string()) {
            const auto field = rule.get<std::string>();
            if (pattern == field || pattern.starts_with(field + ".")) return;
            continue;
        }
        const auto filter = rule.value("features", json::object()).value("filter", json::object());
        if (!filter.value("equality", true) && !filter.value("comparison", false)) continue;
        for (const auto& p : rule.value("attributePatterns", json::array())) {
            const auto name = p.get<std::string>();
            if (glob(name, pattern) || glob(pattern, name)) return;
        }
    }
    throw search_error("facets", "Invalid facet distribution: Pattern `" + pattern +
                                     "` is not filterable. " +
                                     available_patterns(filterable, "filterable", false));
}

// Highlights the matched words of a text.
std::string highlight(const std::string& text, const std::vector<Term>& terms,
                      const SearchParams& p,
                      std::vector<std::pair<std::size_t, std::size_t>>* spans) {
    std::string out;
    std::size_t i = 0;
    auto is_word = [](unsigned char c) { return std::isalnum(c) || c >= 0x80; };
    while (i < text.size()) {
        if (!is_word(static_cast<unsigned char>(text[i]))) {
            out += text[i++];
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && is_word(static_cast<unsigned char>(text[j]))) ++j;
        const auto word = text.substr(i, j - i);
        const auto norm = fold_word(word);
        bool hit = false;
        std::size_t len = word.size();
        for (const auto& t : terms) {
            if (match_word(t, norm) >= 0) {
                hit = true;
                if (t.prefix && norm.starts_with(t.word) && norm != t.word) len = t.word.size();
                break;
            }
        }
        if (hit) {
            if (spans) spans->emplace_back(i, len);
            out += p.highlight_pre + word.substr(0, len) + p.highlight_post + word.substr(len);
        } else {
            out += word;
        }
        i = j;
    }
    return out;
}

std::string crop(const std::string& text, const std::vector<Term>& terms, std::uint64_t length,
                 const std::string& marker) {
    // words with their byte ranges
    std::vector<std::pair<std::size_t, std::size_t>> words;
    auto is_word = [](unsigned char c) { return std::isalnum(c) || c >= 0x80; };
    for (std::size_t i = 0; i < text.size();) {
        if (!is_word(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && is_word(static_cast<unsigned char>(text[j]))) ++j;
        words.emplace_back(i, j);
        i = j;
    }
    if (words.size() <= length) return text;
    std::size_t first = 0;
    for (std::size_t w = 0; w < words.size(); ++w) {
        const auto norm = fold_word(text.substr(words[w].first, words[w].second - words[w].first));
        if (std::any_of(terms.begin(), terms.end(),
                        [&](const Term& t) { return match_word(t, norm) >= 0; })) {
            first = w;
            break;
        }
    }
    const std::size_t start = std::min(first, words.size() - length);
    const std::size_t end = start + length - 1;
    std::string out;
    if (start > 0) out += marker;
    out += text.substr(words[start].first, words[end].second - words[start].first);
    if (end + 1 < words.size()) out += marker;
    return out;
}

// Each searchable attribute's weight for the attribute rules, as Meilisearch weighs them:
// its place in the searchableAttributes list, or 0 for every field when the list is "*"
// (no field outranks another then); -1 for one that attributesToSearchOn leaves out (the
// others keep their weights). Nullopt when attributesToSearchOn names `*`.
std::optional<std::vector<int>> field_weights(const json& settings,
                                              const std::vector<std::string>& fields,
                                              const SearchParams& p) {
    const bool every_field = settings["searchableAttributes"] == json::array({"*"});
    std::vector<int> weight(fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i)
        weight[i] = every_field ? 0 : static_cast<int>(i);
    if (p.attributes_to_search_on) {
        for (const auto& a : *p.attributes_to_search_on) {
            if (a == "*") return std::nullopt;  // every attribute: as without the parameter
            if (std::find(fields.begin(), fields.end(), a) == fields.end() &&
                settings["searchableAttributes"] != json::array({"*"})) {
                throw search_error(
                    "attributes_to_search_on", "Attribute `" + a +
                                                   "` is not searchable. Available searchable "
                                                   "attributes are: `" +
                                                   [&] {
                                                       std::string s;
                                                       for (const auto& f : fields)
                                                           s += (s.empty() ? "" : ", ") + f;
                                                       return s;
                                                   }() +
                                                   "`.");
            }
        }
        for (std::size_t i = 0; i < fields.size(); ++i) {
            const bool searched =
                std::find(p.attributes_to_search_on->begin(), p.attributes_to_search_on->end(),
                          fields[i]) != p.attributes_to_search_on->end();
            if (!searched) weight[i] = -1;
        }
    }

    return weight;
}

// The `sort` parameter's rules, checked against the ranking rules and sortable attributes.
std::vector<SortRule> sort_params(const json& settings, const std::vector<std::string>& rules,
                                  const SearchParams& p) {
    std::vector<SortRule> sort_param;
    if (!p.sort.empty()) {
        if (std::find(rules.begin(), rules.end(), "sort") == rules.end()) {
            throw search_error("sort",
                               "You must specify where `sort` is listed in the rankingRules "
                               "setting to use the sort parameter at search time.");
        }
        for (const auto& s : p.sort) {
            const auto colon = s.rfind(':');
            const auto dir = colon == std::string::npos ? "" : s.substr(colon + 1);
            if (colon == std::string::npos || (dir != "asc" && dir != "desc")) {
                throw search_error("sort",
                                   "Invalid syntax for the sort parameter: expected "
                                   "expression ending by `:asc` or `:desc`, found `" +
                                       s + "`.");
            }
            const auto field = s.substr(0, colon);
            const auto& sortable = settings["sortableAttributes"];
            const bool ok = std::any_of(sortable.begin(), sortable.end(), [&](const json& a) {
                return glob(a.get<std::string>(), field);
            });
            if (!ok) {
                std::vector<std::string> names = sortable.get<std::vector<std::string>>();
                throw search_error(
                    "sort", "Attribute `" + field + "` is not sortable. " +
                                (names.empty() ? std::string("This index does not have configured "
                                                             "sortable attributes.")
                                               : "Available sortable attributes are: `" +
                                                     [&] {
                                                         std::string r;
                                                         for (auto& n : names)
                                                             r += (r.empty() ? "" : ", ") + n;
                                                         return r;
                                                     }() +
                                                     "`."));
            }
            sort_param.push_back({field, dir == "asc", s});
        }
    }

    return sort_param;
}

// The facet fields `facets` asks for, each pattern checked against the filterable ones.
std::vector<std::string> facets_asked(const json& settings, const SearchCache& cache,
                                      const SearchParams& p) {
    std::vector<std::string> facet_fields;
    if (p.facets) {
        const auto& filterable = settings["filterableAttributes"];
        const auto& known = cache.all_fields;
        for (const auto& pattern : *p.facets) {
            check_facet_pattern(filterable, pattern);
            for (const auto& f : known) {
                if (glob(pattern, f) && is_filterable(filterable, f) &&
                    std::find(facet_fields.begin(), facet_fields.end(), f) == facet_fields.end()) {
                    facet_fields.push_back(f);
                }
            }
            // a filterable field no document holds yet still gets its (empty) distribution
            if (pattern.find('*') == std::string::npos && is_filterable(filterable, pattern) &&
                std::find(facet_fields.begin(), facet_fields.end(), pattern) == facet_fields.end())
                facet_fields.push_back(pattern);
        }
        std::sort(facet_fields.begin(), facet_fields.end());
    }

    return facet_fields;
}

// The query's terms with their typo budgets (the last one a prefix when the query ends in a
// word).
std::vector<Term> query_terms(const json& settings, const std::string& q,
                              const std::vector<std::string>& words) {
    std::vector<Term> terms;
    const auto& typo = settings["typoTolerance"];
    const auto one = typo["minWordSizeForTypos"]["oneTypo"].get<std::size_t>();
    const auto two = typo["minWordSizeForTypos"]["twoTypos"].get<std::size_t>();
    const auto& disabled_words = typo["disableOnWords"];
    const bool query_ends_in_word =
        !q.empty() && (std::isalnum(static_cast<unsigned char>(q.back())) ||
                       static_cast<unsigned char>(q.back()) >= 0x80);
    for (std::size_t i = 0; i < words.size(); ++i) {
        Term t;
        t.word = words[i];
        t.prefix = i + 1 == words.size() && query_ends_in_word;
        if (typo["enabled"].get<bool>() &&
            std::find(disabled_words.begin(), disabled_words.end(), t.word) ==
                disabled_words.end() &&
            !(typo["disableOnNumbers"].get<bool>() &&
              std::all_of(t.word.begin(), t.word.end(), ::isdigit))) {
            t.allowed_typos = t.word.size() >= two ? 2 : t.word.size() >= one ? 1 : 0;
        }
        terms.push_back(std::move(t));
    }
    return terms;
}

// The vector and hybrid parameters checked against the index's embedders.
void check_vector_params(const json& settings, const SearchParams& p) {
    if (p.vector && !p.hybrid_embedder) {
        throw error(400, "missing_search_hybrid",
                    "Passing `vector` as a parameter requires `hybrid` to be set.");
    }
    if (p.hybrid_embedder) {
        const auto& embedders = settings["embedders"];
        if (!embedders.contains(*p.hybrid_embedder)) {
            throw error(400, "invalid_search_embedder",
                        "Cannot find embedder with name `" + *p.hybrid_embedder + "`.");
        }
        const auto dimensions = embedders[*p.hybrid_embedder]["dimensions"].get<std::size_t>();
        if (p.vector && p.vector->size() != dimensions) {
            throw error(400, "invalid_vector_dimensions",
                        "Invalid vector dimensions: expected: `" + std::to_string(dimensions) +
                            "`, found: `" + std::to_string(p.vector->size()) + "`.");
        }
        if (!p.vector && p.semantic_ratio > 0.0) {
            throw error(400, "invalid_search_vector",
                        "Invalid value at `.vector`: the embedder `" + *p.hybrid_embedder +
                            "` is `userProvided`: a `vector` is required for a semantic or "
                            "hybrid search.");
        }
    }
}

}  // namespace

void sort_documents(std::vector<const json*>& docs, const std::vector<std::string>& sort,
                    const json& sortable, const std::string& code) {
    std::vector<SortRule> rules;
    for (const auto& s : sort) {
        const auto colon = s.rfind(':');
        const auto dir = colon == std::string::npos ? "" : s.substr(colon + 1);
        if (colon == std::string::npos || (dir != "asc" && dir != "desc")) {
            throw error(400, code,
                        "Invalid syntax for the sort parameter: expected expression ending by "
                        "`:asc` or `:desc`, found `" +
                            s + "`.");
        }
        const auto field = s.substr(0, colon);
        const bool ok = std::any_of(sortable.begin(), sortable.end(), [&](const json& a) {
            return glob(a.get<std::string>(), field);
        });
        if (!ok) {
            const auto names = sortable.get<std::vector<std::string>>();
            throw error(
                400, code,
                "Attribute `" + field + "` is not sortable. " +
                    (names.empty()
                         ? std::string("This index does not have configured "
                                       "sortable attributes.")
                         : "Available sortable attributes are: " + backquoted_list(names) + "."));
        }
        rules.push_back({field, dir == "asc", s});
    }
    if (rules.empty()) return;
    std::vector<std::pair<std::vector<RuleResult>, const json*>> keyed;
    for (const json* d : docs) {
        std::vector<RuleResult> values(rules.size());
        for (std::size_t i = 0; i < rules.size(); ++i) sort_value(*d, rules[i], values[i]);
        keyed.emplace_back(std::move(values), d);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
        for (std::size_t i = 0; i < a.first.size(); ++i) {
            const int c = compare_rule(a.first[i], b.first[i]);
            if (c != 0) return c < 0;
        }
        return false;
    });
    for (std::size_t i = 0; i < docs.size(); ++i) docs[i] = keyed[i].second;
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

json run_search(const Index& index, const SearchParams& p) {
    const auto& settings = index.settings;
    const auto filter = parse_filter(p.filter, "invalid_search_filter");
    check_filterable(filter, settings["filterableAttributes"], "invalid_search_filter",
                     p.all_facet_values ? nullptr : &index.uid);

    // searchable attributes
    const SearchCache& cache = cache_of(index);
    const std::vector<std::string>& fields = cache.fields;
    const auto weights = field_weights(settings, fields, p);
    if (!weights) {
        auto every = p;
        every.attributes_to_search_on.reset();
        return run_search(index, every);
    }
    const auto& weight = *weights;
    const bool every_field = settings["searchableAttributes"] == json::array({"*"});
    const std::uint64_t heaviest = every_field || fields.empty() ? 0 : fields.size() - 1;

    // ranking and sort rules, validated
    const auto rules = settings["rankingRules"].get<std::vector<std::string>>();
    // each rule's kind, decided once rather than per document
    std::vector<RuleKind> rule_kinds;
    for (const auto& rule : rules) rule_kinds.push_back(rule_kind(rule));
    // custom ranking rules (`field:asc|desc`), by position in `rules`
    std::vector<std::optional<SortRule>> custom_rules(rules.size());
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const auto& rule = rules[i];
        if (rule.ends_with(":asc") || rule.ends_with(":desc")) {
            custom_rules[i] =
                SortRule{rule.substr(0, rule.rfind(':')), rule.ends_with(":asc"), rule};
        }
    }
    const auto sort_param = sort_params(settings, rules, p);

    // facets, validated
    const auto facet_fields = facets_asked(settings, cache, p);

    // the query's terms and their typo budgets
    auto words = tokenize(p.q);
    if (words.size() > kMaxQueryWords) words.resize(kMaxQueryWords);
    auto terms = query_terms(settings, p.q, words);
    const bool placeholder = terms.empty();

    // vector and hybrid search: which sides run
    check_vector_params(settings, p);
    const bool semantic_side = p.hybrid_embedder && p.vector && p.semantic_ratio > 0.0;
    const bool keyword_side = !semantic_side || (p.semantic_ratio < 1.0 && !placeholder);

    // per document: which terms match, with how many typos, where
    struct TermMatch {
        int typos = -1;  // -1: no match
        bool exact = false;
        int attribute = -1;     // the lightest weight among the attributes it matches in
        int position_cost = 0;  // the lowest position cost among its occurrences
        std::vector<std::pair<int, int>> positions;  // (attribute, position)
    };
    struct Candidate {
        std::uint32_t slot;
        const json* doc;
        std::vector<TermMatch> matches;
        std::size_t k = 0;  // number of leading terms matched
    };
    // the words of this node's dictionary that each term matches; the first term's postings
    // give the candidates
    std::vector<std::uint32_t> pool;
    // for each term, the dictionary words it matches and with how many typos
    std::vector<std::vector<std::int8_t>> term_words(terms.size());
    std::vector<std::int64_t> exact_id(terms.size(), -1);
    if (keyword_side && !placeholder) {
        std::vector<char> in_pool(index.slots.size(), 0);
        for (std::size_t ti = 0; ti < terms.size(); ++ti) {
            auto& t = terms[ti];
            term_words[ti].assign(cache.lexicon.size(), -1);
            match_dictionary(t, cache.lexicon, [&](std::uint32_t id, int typos) {
                if (cache.lexicon[id] == t.word) exact_id[ti] = id;
                term_words[ti][id] = static_cast<std::int8_t>(typos);
                if (ti == 0) {
                    for (auto slot : cache.postings(id)) in_pool[slot] = 1;
                }
            });
        }
        for (std::uint32_t slot = 0; slot < in_pool.size(); ++slot) {
            if (in_pool[slot]) pool.push_back(slot);
        }
    } else if (keyword_side) {
        for (std::uint32_t slot = 0; slot < index.slots.size(); ++slot) {
            if (index.slots[slot]) pool.push_back(slot);
        }
    }
    // the query words as dictionary ids, for the exactness rule
    std::vector<std::uint32_t> word_ids;
    bool all_words_known = !words.empty() && words.size() == terms.size();
    for (std::size_t ti = 0; all_words_known && ti < terms.size(); ++ti) {
        if (exact_id[ti] < 0) all_words_known = false;
        word_ids.push_back(static_cast<std::uint32_t>(exact_id[ti]));
    }
    // rank one candidate as soon as its matches are known
    const bool want_details = p.show_ranking_score_details;
    // fills `h` (its buffers are reused from one candidate to the next)
    auto rank_candidate = [&](const Candidate& c, Hit& h) {
        h.slot = c.slot;
        h.doc = c.doc;
        h.rules.clear();
        h.details.clear();
        std::size_t rule_index = 0;
        for (const auto& rule : rules) {
            ++rule_index;
            const RuleKind kind = rule_kinds[rule_index - 1];
            if (kind == RuleKind::sort) {
                for (const auto& s : sort_param) {
                    RuleResult r;
                    sort_value(*c.doc, s, r);
                    h.rules.push_back(std::move(r));
                    if (want_details) h.details.emplace_back();
                }
                continue;
            }
            if (const auto& custom = custom_rules[rule_index - 1]; custom) {
                RuleResult r;
                sort_value(*c.doc, *custom, r);
                h.rules.push_back(std::move(r));
                if (want_details) h.details.emplace_back();
                continue;
            }
            if (placeholder) continue;  // relevancy rules are skipped without a query
            RuleResult r;
            Details details;
            r.name = rule;
            const std::size_t k = c.k;
            if (kind == RuleKind::words) {
                r.rank = k;
                r.max = terms.size();
                details.add("matchingWords", std::uint64_t{k});
                details.add("maxMatchingWords", std::uint64_t{terms.size()});
            } else if (kind == RuleKind::typo) {
                // Meilisearch's maximum is the costliest path of the typo graph: each word
                // its typo budget, at least 1 (a split into two words costs one typo;
                // `max_typo_cost` in milli's query_term). Paths through the concatenation of
                // adjacent words (2- and 3-grams) are not modelled: this node matches no
                // concatenated word
                int count = 0, max = 0;
                for (std::size_t i = 0; i < k; ++i) {
                    count += c.matches[i].typos;
                    max += std::max(1, terms[i].allowed_typos);
                }
                r.rank = static_cast<std::uint64_t>(max + 1 - count);
                r.max = static_cast<std::uint64_t>(max + 1);
                details.add("typoCount", static_cast<std::uint64_t>(count));
                details.add("maxTypoCount", static_cast<std::uint64_t>(max));
            } else if (kind == RuleKind::proximity) {
                int cost = 0;
                for (std::size_t i = 0; i + 1 < k; ++i) {
                    int best = kMaxProximityCost;
                    for (const auto& [a1, p1] : c.matches[i].positions) {
                        for (const auto& [a2, p2] : c.matches[i + 1].positions) {
                            if (a1 != a2) continue;
                            const int d = p2 - p1;
                            const int pair_cost = d > 0 ? d - 1 : std::abs(d) + 1;
                            best = std::min(best, std::min(pair_cost, kMaxProximityCost));
                        }
                    }
                    cost += best;
                }
                const int max_cost = kMaxProximityCost * static_cast<int>(k > 0 ? k - 1 : 0);
                r.rank = static_cast<std::uint64_t>(max_cost + 1 - cost);
                r.max = static_cast<std::uint64_t>(max_cost + 1);
            } else if (kind == RuleKind::attribute_rank || kind == RuleKind::word_position ||
                       kind == RuleKind::attribute) {
                // as Meilisearch's graph rules: a cost per matched query word, summed; the
                // attribute rule's is the lightest weight of an attribute the word is in (at
                // most the heaviest searchable one), the position rule's the distance between
                // where the word is and where it stands in the query (at most 10)
                std::uint64_t attr_cost = 0, pos_cost = 0;
                for (std::size_t i = 0; i < k; ++i) {
                    attr_cost += static_cast<std::uint64_t>(std::max(c.matches[i].attribute, 0));
                    pos_cost += static_cast<std::uint64_t>(c.matches[i].position_cost);
                }
                const std::uint64_t attr_max = k * heaviest + 1;
                const std::uint64_t pos_max = k * kMaxPositionCost + 1;
                const std::uint64_t attr_rank = attr_max - attr_cost;
                const std::uint64_t pos_rank = pos_max - pos_cost;
                if (kind == RuleKind::attribute_rank) {
                    r.rank = attr_rank;
                    r.max = attr_max;
                } else if (kind == RuleKind::word_position) {
                    r.rank = pos_rank;
                    r.max = pos_max;
                } else {
                    r.rank = (attr_rank - 1) * pos_max + pos_rank;
                    r.max = attr_max * pos_max;
                    details.add("attributeRankingOrderScore",
                                static_cast<double>(attr_rank) / static_cast<double>(attr_max));
                    details.add("queryWordDistanceScore",
                                static_cast<double>(pos_rank) / static_cast<double>(pos_max));
                }
            } else if (kind == RuleKind::exactness) {
                const char* type = "noExactMatch";
                // compared as dictionary ids: a query word missing from the dictionary
                // cannot start or equal any attribute
                for (std::size_t ai = 0; all_words_known && ai < cache.fields.size(); ++ai) {
                    if (weight[ai] < 0) continue;
                    const auto ids = cache.tokens(c.slot, ai);
                    if (ids.empty() || ids.size() < words.size()) continue;
                    if (!std::equal(word_ids.begin(), word_ids.end(), ids.begin())) continue;
                    if (ids.size() == words.size()) {
                        type = "exactMatch";
                        break;
                    }
                    type = "matchesStart";
                }
                details.add("matchType", type);
                if (type == std::string_view("exactMatch")) {
                    r.rank = 3;
                    r.max = 3;
                } else if (type == std::string_view("matchesStart")) {
                    r.rank = 2;
                    r.max = 3;
                } else {
                    std::uint64_t exact = 0;
                    for (std::size_t i = 0; i < k; ++i) exact += c.matches[i].exact ? 1 : 0;
                    details.add("matchingWords", exact);
                    details.add("maxMatchingWords", std::uint64_t{k});
                    r.rank = exact + 1;
                    r.max = (k + 1) * 3;
                }
            } else {
                continue;
            }
            r.local = static_cast<double>(r.rank) / static_cast<double>(r.max);
            h.rules.push_back(std::move(r));
            if (want_details) h.details.push_back(details);
        }
        // the score folds the relevancy ranks lexicographically; sort rules are excluded
        long double rank = 1, max = 1;
        for (const auto& r : h.rules) {
            if (!r.relevancy) continue;
            rank = (rank - 1) * static_cast<long double>(r.max) + static_cast<long double>(r.rank);
            max *= static_cast<long double>(r.max);
        }
        h.score = static_cast<double>(rank / max);
    };

    // the bucket sort's order: rule by rule, then internal id
    auto before = [](const Hit& a, const Hit& b) {
        for (std::size_t i = 0; i < a.rules.size() && i < b.rules.size(); ++i) {
            const int c = compare_rule(a.rules[i], b.rules[i]);
            if (c != 0) return c < 0;
        }
        return a.slot < b.slot;
    };
    // Only the requested window needs ranked hits, unless distinct, a threshold or the
    // semantic merge looks further: then every hit is kept. Otherwise the best `needed` are
    // kept in a heap whose front is the worst of them, and the others only counted.
    const auto max_total = settings["pagination"]["maxTotalHits"].get<std::uint64_t>();
    const std::uint64_t needed = p.page || p.hits_per_page
                                     ? p.page.value_or(1) * p.hits_per_page.value_or(20)
                                     : std::min<std::uint64_t>(p.offset, max_total) + p.limit;
    const bool whole = semantic_side || p.distinct || p.ranking_score_threshold ||
                       settings["distinctAttribute"].is_string();
    std::vector<Hit> hits;
    std::uint64_t total = 0;             // hits, counted
    std::vector<std::uint32_t> matched;  // every hit's slot, ascending, for facets
    Hit scratch{0, nullptr, {}, {}, 1.0};
    auto keep = [&](Hit& h) {
        ++total;
        if (p.facets || p.report_slots) matched.push_back(h.slot);
        if (whole) {
            hits.push_back(std::move(h));
        } else if (hits.size() < needed) {
            hits.push_back(h);
            std::push_heap(hits.begin(), hits.end(), before);
        } else if (needed > 0 && before(h, hits.front())) {
            std::pop_heap(hits.begin(), hits.end(), before);
            hits.back() = h;
            std::push_heap(hits.begin(), hits.end(), before);
        }
    };

    Candidate current{0, nullptr, std::vector<TermMatch>(terms.size()), 0};
    for (const std::uint32_t slot : pool) {
        Candidate& c = current;
        const json& doc = *index.slots[slot];
        if (!matches(filter, doc)) continue;
        if (p.only_slots && !std::binary_search(p.only_slots->begin(), p.only_slots->end(), slot))
            continue;
        c.slot = slot;
        c.doc = &doc;
        c.k = 0;
        if (!placeholder) {
            // the buffers are reused from one candidate to the next
            for (auto& m : c.matches) {
                m.typos = -1;
                m.exact = false;
                m.attribute = -1;
                m.position_cost = 0;
                m.positions.clear();
            }
            for (int cached = 0; cached < static_cast<int>(cache.fields.size()); ++cached) {
                const int a = weight[cached];
                if (a < 0) continue;
                const auto toks = cache.tokens(slot, static_cast<std::size_t>(cached));
                for (int pos = 0; pos < static_cast<int>(toks.size()); ++pos) {
                    for (std::size_t ti = 0; ti < terms.size(); ++ti) {
                        const int typos = term_words[ti][toks[pos]];
                        if (typos < 0) continue;
                        auto& m = c.matches[ti];
                        if (m.typos < 0 || typos < m.typos) m.typos = typos;
                        if (toks[pos] == exact_id[ti]) m.exact = true;
                        const int cost = position_cost(pos, static_cast<int>(ti));
                        if (m.attribute < 0 || cost < m.position_cost) m.position_cost = cost;
                        if (m.attribute < 0 || a < m.attribute) m.attribute = a;
                        m.positions.emplace_back(cached, pos);
                    }
                }
            }
            while (c.k < terms.size() && c.matches[c.k].typos >= 0) ++c.k;
            if (c.k == 0) continue;
            if (p.matching_strategy == "all" && c.k < terms.size()) continue;
        }
        rank_candidate(c, scratch);
        keep(scratch);
    }

    if (whole) {
        std::sort(hits.begin(), hits.end(), before);
    } else {
        std::sort_heap(hits.begin(), hits.end(), before);
    }
    // the semantic side, merged with the keyword side by weighted score; skipped when the
    // keyword side fills the window with hits scoring at least 0.45 once weighted
    // (`results_good_enough` in milli's hybrid.rs)
    const bool good_enough =
        semantic_side && hits.size() >= needed &&
        std::all_of(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(needed),
                    [&p](const Hit& h) { return h.score * (1.0 - p.semantic_ratio) >= 0.45; });
    if (semantic_side && !good_enough) {
        const double ratio = p.semantic_ratio;
        std::map<std::uint32_t, std::size_t> keyword_rank;
        for (auto& h : hits) h.weighted = h.score * (1.0 - ratio);
        std::vector<Hit> merged;
        std::set<std::uint32_t> placed;
        std::vector<Hit> semantic;
        for (std::uint32_t slot = 0; slot < index.slots.size(); ++slot) {
            if (!index.slots[slot]) continue;
            const json& doc = *index.slots[slot];
            if (!matches(filter, doc)) continue;
            double best = -1;
            for (const auto& v : document_vectors(doc, *p.hybrid_embedder)) {
                if (v.size() == p.vector->size()) best = std::max(best, similarity(v, *p.vector));
            }
            // a document without a vector comes last, with no similarity (score 0)
            const bool none = best < 0;
            if (none) best = 0;
            Hit h{slot, &doc, {}, {}, best, true, best * ratio};
            RuleResult r;
            r.name = "vectorSort";
            r.local = best;
            Details details;
            if (none) {
                details.add_null("similarity");
            } else {
                details.add("similarity", best);
            }
            r.relevancy = false;  // no "score" field in its details
            h.rules.push_back(std::move(r));
            if (want_details) h.details.push_back(details);
            semantic.push_back(std::move(h));
        }
        std::stable_sort(semantic.begin(), semantic.end(),
                         [](const Hit& a, const Hit& b) { return a.score > b.score; });
        // each document once, from the side where it weighs most
        std::map<std::uint32_t, const Hit*> best_semantic;
        for (const auto& h : semantic) best_semantic.emplace(h.slot, &h);
        for (auto& h : hits) {
            auto it = best_semantic.find(h.slot);
            if (it != best_semantic.end() && it->second->weighted > h.weighted) continue;
            placed.insert(h.slot);
            merged.push_back(std::move(h));
        }
        for (auto& h : semantic) {
            if (placed.insert(h.slot).second) merged.push_back(std::move(h));
        }
        // equal weights: the semantic hit first, as milli's merge takes the vector side
        std::stable_sort(merged.begin(), merged.end(), [](const Hit& a, const Hit& b) {
            if (a.weighted != b.weighted) return a.weighted > b.weighted;
            return a.semantic > b.semantic;
        });
        hits = std::move(merged);
    }
    if (p.ranking_score_threshold) {
        std::erase_if(hits, [&](const Hit& h) { return h.score < *p.ranking_score_threshold; });
    }

    // distinct: the first hit of each value
    const auto distinct =
        p.distinct ? p.distinct
        : settings["distinctAttribute"].is_string()
            ? std::optional<std::string>(settings["distinctAttribute"].get<std::string>())
            : std::nullopt;
    if (distinct) {
        if (p.distinct && !is_filterable(settings["filterableAttributes"], *distinct)) {
            throw search_error(
                "distinct",
                "Attribute `" + *distinct +
                    "` is not filterable and thus, cannot be used as distinct attribute. " +
                    "Available filterable attributes patterns are: " + backquoted_list([&] {
                        std::vector<std::string> n;
                        for (const auto& r : settings["filterableAttributes"])
                            if (r.is_string()) n.push_back(r.get<std::string>());
                        std::sort(n.begin(), n.end());
                        return n;
                    }()) +
                    ".");
        }
        std::set<std::string> seen;
        std::erase_if(hits, [&](const Hit& h) {
            const auto values = field_values(*h.doc, *distinct);
            if (values.empty()) return false;
            std::vector<std::string> keys;
            for (const json* v : values) {
                keys.push_back(v->is_string()   ? normalize(v->get<std::string>())
                               : v->is_number() ? number_key(v->get<double>())
                                                : v->dump());
            }
            for (const auto& key : keys) {
                if (seen.count(key)) return true;
            }
            for (auto& key : keys) seen.insert(key);
            return false;
        });
    }

    // every hit was kept when any of them could be dropped: count what remains
    if (whole) {
        total = hits.size();
        matched.clear();
        if (p.facets || p.report_slots) {
            for (const auto& h : hits) matched.push_back(h.slot);
            std::sort(matched.begin(), matched.end());
        }
    }

    // facets over every remaining candidate
    json facet_distribution = json::object();
    json facet_stats = json::object();
    if (p.facets) {
        const auto& faceting = settings["faceting"];
        const auto max_values = p.all_facet_values
                                    ? std::numeric_limits<std::size_t>::max()
                                    : faceting["maxValuesPerFacet"].get<std::size_t>();
        for (const auto& f : facet_fields) {
            const FacetColumn& column = cache.facet(index, f);
            // per value: documents, and the spelling of the first (by internal id) holding it
            std::vector<std::uint64_t> counts(column.values, 0);
            std::vector<std::uint32_t> spelling(column.values, 0);
            std::optional<std::uint32_t> min_number, max_number;
            bool present = false;
            for (const std::uint32_t slot : matched) {
                present = present || column.present[slot];
                for (auto e = column.start[slot]; e < column.start[slot + 1]; ++e) {
                    const auto& entry = column.entries[e];
                    if (counts[entry.value]++ == 0) spelling[entry.value] = entry.spelling;
                    if (entry.value < column.numbers.size()) {
                        min_number = std::min(min_number.value_or(entry.value), entry.value);
                        max_number = std::max(max_number.value_or(entry.value), entry.value);
                    }
                }
            }
            bool known = present;
            if (!known) {
                for (const auto& name : cache.all_fields)
                    known |= name == f || name.starts_with(f + ".");
            }
            if (!known) continue;
            std::string order = "alpha";
            const auto& by = faceting["sortFacetValuesBy"];
            if (by.contains(f))
                order = by[f].get<std::string>();
            else if (by.contains("*"))
                order = by["*"].get<std::string>();
            std::vector<std::pair<std::string, std::uint64_t>> entries;
            std::vector<std::pair<std::string, std::uint64_t>> number_entries, string_entries;
            for (std::uint32_t v = 0; v < column.values; ++v) {
                if (counts[v] == 0) continue;
                if (v < column.numbers.size()) {
                    number_entries.emplace_back(number_key(column.numbers[v]), counts[v]);
                } else {
                    string_entries.emplace_back(column.spellings[spelling[v]], counts[v]);
                }
            }
            if (order == "count") {
                // equal counts: the larger value first, as Meilisearch's walk of its facet tree
                // gives them (the lists are in ascending order here)
                auto by_count = [](const auto& a, const auto& b) { return a.second > b.second; };
                std::reverse(number_entries.begin(), number_entries.end());
                std::reverse(string_entries.begin(), string_entries.end());
                std::stable_sort(number_entries.begin(), number_entries.end(), by_count);
                std::stable_sort(string_entries.begin(), string_entries.end(), by_count);
            } else if (matched.size() <= kFacetCandidatesThreshold) {
                // few candidates: Meilisearch reads each candidate's numbers and orders them by
                // their text ("1" < "10.5" < "2"); past the threshold it walks its number
                // levels, in numeric order
                std::sort(number_entries.begin(), number_entries.end());
            }
            // strings in the order of their normalized form
            json dist = json::object();
            for (auto* list : {&number_entries, &string_entries}) {
                for (const auto& [key, n] : *list) {
                    if (dist.size() >= max_values) break;
                    dist[key] = n;
                }
            }
            facet_distribution[f] = dist;
            if (min_number) {
                facet_stats[f] = json{{"min", column.numbers[*min_number]},
                                      {"max", column.numbers[*max_number]}};
            }
        }
    }

    // the window
    const bool page_mode = p.page || p.hits_per_page;
    std::uint64_t offset = p.offset, limit = p.limit;
    if (page_mode) {
        const auto per_page = p.hits_per_page.value_or(20);
        const auto page = p.page.value_or(1);
        offset = page == 0 ? 0 : (page - 1) * per_page;
        limit = page == 0 ? 0 : per_page;
    }
    offset = std::min(offset, max_total);
    limit = std::min(limit, max_total - offset);

    // the hits
    const auto& displayed = settings["displayedAttributes"];
    auto visible = [&](const std::string& field) {
        const bool shown = std::any_of(displayed.begin(), displayed.end(), [&](const json& d) {
            return glob(d.get<std::string>(), field);
        });
        if (!shown) return false;
        if (!p.attributes_to_retrieve) return true;
        return std::any_of(p.attributes_to_retrieve->begin(), p.attributes_to_retrieve->end(),
                           [&](const std::string& a) { return glob(a, field); });
    };
    json out_hits = json::array();
    for (std::size_t i = offset; i < hits.size() && out_hits.size() < limit; ++i) {
        const auto& h = hits[i];
        json hit = json::object();
        // _formatted also shows the attributes to highlight or crop that are displayed
        json shown = json::object();
        auto listed = [&](const std::vector<std::string>& list, const std::string& field) {
            return std::any_of(list.begin(), list.end(), [&](const std::string& a) {
                return glob(a.substr(0, a.find(':')), field);
            });
        };
        for (auto it = h.doc->begin(); it != h.doc->end(); ++it) {
            if (it.key() == "_vectors") continue;
            if (visible(it.key())) {
                hit[it.key()] = it.value();
                shown[it.key()] = it.value();
            } else if ((listed(p.attributes_to_highlight, it.key()) ||
                        listed(p.attributes_to_crop, it.key())) &&
                       std::any_of(displayed.begin(), displayed.end(), [&](const json& d) {
                           return glob(d.get<std::string>(), it.key());
                       })) {
                shown[it.key()] = it.value();
            }
        }
        const bool format = !p.attributes_to_highlight.empty() || !p.attributes_to_crop.empty();
        json positions = json::object();
        if (format || p.show_matches_position) {
            json formatted = json::object();
            for (auto it = shown.begin(); it != shown.end(); ++it) {
                auto in = [&](const std::vector<std::string>& list) {
                    return listed(list, it.key());
                };
                if (it.value().is_string()) {
                    std::string text = it.value().get<std::string>();
                    std::vector<std::pair<std::size_t, std::size_t>> spans;
                    if (in(p.attributes_to_crop))
                        text = crop(text, terms, p.crop_length, p.crop_marker);
                    const std::string highlighted = highlight(text, terms, p, &spans);
                    if (in(p.attributes_to_highlight)) text = highlighted;
                    formatted[it.key()] = text;
                    if (p.show_matches_position && !spans.empty()) {
                        std::vector<std::pair<std::size_t, std::size_t>> raw;
                        highlight(it.value().get<std::string>(), terms, p, &raw);
                        json list = json::array();
                        for (const auto& [start, len] : raw)
                            list.push_back(json{{"start", start}, {"length", len}});
                        positions[it.key()] = list;
                    }
                } else if (it.value().is_number()) {
                    formatted[it.key()] = it.value().dump();
                } else {
                    formatted[it.key()] = it.value();
                }
            }
            if (format) hit["_formatted"] = formatted;
            if (p.show_matches_position) hit["_matchesPosition"] = positions;
        }
        if (p.retrieve_vectors) hit["_vectors"] = shown_vectors(*h.doc);
        if (p.show_ranking_score) hit["_rankingScore"] = h.score;
        if (p.show_ranking_score_details) {
            json details = json::object();
            int order = 0;
            for (std::size_t ri = 0; ri < h.rules.size(); ++ri) {
                const auto& r = h.rules[ri];
                json d;
                d["order"] = order++;
                for (std::size_t di = 0; di < h.details[ri].size; ++di) {
                    const auto& item = h.details[ri].items[di];
                    using Type = Details::Item::Type;
                    if (item.type == Type::count) d[item.key] = item.count;
                    if (item.type == Type::real) d[item.key] = item.real;
                    if (item.type == Type::text) d[item.key] = item.text;
                    if (item.type == Type::null) d[item.key] = nullptr;
                }
                if (r.relevancy) d["score"] = r.local;
                if (!r.relevancy && r.name != "vectorSort") {
                    d["value"] = r.sort_class == 0   ? json(r.number)
                                 : r.sort_class == 1 ? json(r.string)
                                                     : json(nullptr);
                }
                details[std::string(r.name)] = d;
            }
            hit["_rankingScoreDetails"] = details;
        }
        if (p.federation) {
            // consecutive relevancy rules fold into one score (their ranks, lexicographically);
            // sort rules keep their values; vector similarity stays a score
            json values = json::array();
            long double rank = 1, max = 1;
            bool open = false;
            auto flush = [&] {
                if (open) values.push_back(json{{"score", static_cast<double>(rank / max)}});
                rank = max = 1;
                open = false;
            };
            for (const auto& r : h.rules) {
                if (r.relevancy) {
                    rank = (rank - 1) * static_cast<long double>(r.max) +
                           static_cast<long double>(r.rank);
                    max *= static_cast<long double>(r.max);
                    open = true;
                } else if (r.name == "vectorSort") {
                    flush();
                    values.push_back(json{{"vector", r.local}});
                } else {
                    flush();
                    values.push_back(
                        json{{"sort", json{{"asc", r.asc},
                                           {"value", r.sort_class == 0   ? json(r.number)
                                                     : r.sort_class == 1 ? json(r.string)
                                                                         : json(nullptr)}}}});
                }
            }
            flush();
            hit["_federation_values"] = std::move(values);
            hit["_federation_slot"] = h.slot;
            hit["_federation_score"] = h.score;
        }
        out_hits.push_back(std::move(hit));
    }

    json out;
    out["hits"] = std::move(out_hits);
    out["query"] = p.q;
    if (p.vector && p.retrieve_vectors) out["queryVector"] = *p.vector;
    out["processingTimeMs"] = 0;
    if (page_mode) {
        const auto per_page = p.hits_per_page.value_or(20);
        out["hitsPerPage"] = per_page;
        out["page"] = p.page.value_or(1);
        out["totalPages"] = per_page == 0 ? 0 : (total + per_page - 1) / per_page;
        out["totalHits"] = total;
    } else {
        out["limit"] = limit;
        out["offset"] = offset;
        out["estimatedTotalHits"] = total;
    }
    if (p.facets) {
        out["facetDistribution"] = facet_distribution;
        out["facetStats"] = facet_stats;
    }
    out["requestUid"] = new_uuid();
    if (semantic_side) {
        std::uint64_t semantic_hits = 0;
        for (std::size_t i = offset; i < hits.size() && i < offset + limit; ++i) {
            semantic_hits += hits[i].semantic ? 1 : 0;
        }
        out["semanticHitCount"] = semantic_hits;
    }
    if (p.report_slots) out["_matched_slots"] = matched;
    return out;
}

}  // namespace devnode
