// Matching: the query's terms, the dictionary words each term matches with their typos, and
// each candidate document's matches (which terms, with how many typos, where).
#include <algorithm>
#include <cmath>

#include "search_engine.hpp"

namespace devnode {

namespace {

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

}  // namespace

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

KeywordMatcher::KeywordMatcher(const SearchPlan& plan)
    : plan_(plan), term_words_(plan.terms.size()), exact_id_(plan.terms.size(), -1) {
    if (plan.keyword_side && !plan.placeholder) {
        match_dictionary_words();
    } else if (plan.keyword_side) {
        for (std::uint32_t slot = 0; slot < plan.index.slots.size(); ++slot) {
            if (plan.index.slots[slot]) pool_.push_back(slot);
        }
    }
    // the query words as dictionary ids, for the exactness rule
    if (plan.words.empty() || plan.words.size() != plan.terms.size()) return;
    std::vector<std::uint32_t> ids;
    for (const auto id : exact_id_) {
        if (id < 0) return;
        ids.push_back(static_cast<std::uint32_t>(id));
    }
    word_ids_ = std::move(ids);
}

// The words of this node's dictionary that each term matches, and the documents holding each
// term; those holding the first term never dropped are the candidates.
void KeywordMatcher::match_dictionary_words() {
    const SearchCache& cache = plan_.cache;
    const std::size_t terms = plan_.terms.size();
    std::vector<std::vector<char>> holds(terms, std::vector<char>(plan_.index.slots.size(), 0));
    std::vector<std::uint64_t> holders(terms, 0);
    for (std::size_t ti = 0; ti < terms; ++ti) {
        const auto& t = plan_.terms[ti];
        term_words_[ti].assign(cache.lexicon.size(), -1);
        match_dictionary(t, cache.lexicon, [&](std::uint32_t id, int typos) {
            if (cache.lexicon[id] == t.word) exact_id_[ti] = id;
            term_words_[ti][id] = static_cast<std::int8_t>(typos);
            for (auto slot : cache.postings(id)) {
                if (!holds[ti][slot]) ++holders[ti];
                holds[ti][slot] = 1;
            }
        });
    }
    group_terms(holders);
    if (terms == 0) return;
    std::size_t kept = 0;
    while (kept + 1 < terms && group_[kept] + 1 != groups_) ++kept;
    for (std::uint32_t slot = 0; slot < holds[kept].size(); ++slot) {
        if (holds[kept][slot]) pool_.push_back(slot);
    }
}

void KeywordMatcher::group_terms(const std::vector<std::uint64_t>& holders) {
    const std::size_t terms = holders.size();
    group_.assign(terms, 0);
    groups_ = 1;
    const auto& strategy = plan_.p.matching_strategy;
    if (strategy == "last") {
        for (std::size_t ti = 0; ti < terms; ++ti) group_[ti] = terms - 1 - ti;
        groups_ = std::max<std::size_t>(terms, 1);
    } else if (strategy == "frequency") {
        // the most frequent first, a term no document holds counting as the most frequent;
        // equal counts in query order, in one group
        std::vector<std::pair<std::size_t, std::uint64_t>> by_count;
        for (std::size_t ti = 0; ti < terms; ++ti) {
            by_count.emplace_back(ti, holders[ti] == 0 ? UINT64_MAX : holders[ti]);
        }
        std::stable_sort(by_count.begin(), by_count.end(),
                         [](const auto& a, const auto& b) { return a.second > b.second; });
        std::size_t g = 0;
        for (std::size_t i = 0; i < by_count.size(); ++i) {
            if (i > 0 && by_count[i].second != by_count[i - 1].second) ++g;
            group_[by_count[i].first] = g;
        }
        groups_ = g + 1;
    }
}

bool KeywordMatcher::match(std::uint32_t slot, const json& doc, Candidate& c) const {
    c.slot = slot;
    c.doc = &doc;
    c.k = 0;
    c.used.clear();
    if (plan_.placeholder) return true;
    for (auto& m : c.matches) {
        m.typos = -1;
        m.exact = false;
        m.attribute = -1;
        m.position_cost = 0;
        m.positions.clear();
    }
    for (int attribute = 0; attribute < static_cast<int>(plan_.cache.fields.size()); ++attribute) {
        if (plan_.weight[attribute] >= 0) scan_attribute(slot, attribute, c);
    }
    // the fewest groups dropped that leave only terms the document matches
    const std::size_t terms = plan_.terms.size();
    for (std::size_t dropped = 0; dropped < groups_ && c.used.empty(); ++dropped) {
        bool all = true;
        for (std::size_t ti = 0; ti < terms && all; ++ti) {
            all = group_[ti] < dropped || c.matches[ti].typos >= 0;
        }
        if (!all) continue;
        for (std::size_t ti = 0; ti < terms; ++ti) {
            if (group_[ti] >= dropped) c.used.push_back(ti);
        }
    }
    c.k = c.used.size();
    return c.k > 0;
}

// Reads one searchable attribute's tokens for every term's matches.
void KeywordMatcher::scan_attribute(std::uint32_t slot, int attribute, Candidate& c) const {
    const int weight = plan_.weight[attribute];
    const auto toks = plan_.cache.tokens(slot, static_cast<std::size_t>(attribute));
    const std::size_t terms = plan_.terms.size();
    for (int pos = 0; pos < static_cast<int>(toks.size()); ++pos) {
        for (std::size_t ti = 0; ti < terms; ++ti) {
            const int typos = term_words_[ti][toks[pos]];
            if (typos < 0) continue;
            auto& m = c.matches[ti];
            if (m.typos < 0 || typos < m.typos) m.typos = typos;
            if (toks[pos] == exact_id_[ti]) m.exact = true;
            const int cost = position_cost(pos, static_cast<int>(ti));
            if (m.attribute < 0 || cost < m.position_cost) m.position_cost = cost;
            if (m.attribute < 0 || weight < m.attribute) m.attribute = weight;
            m.positions.emplace_back(attribute, pos);
        }
    }
}

}  // namespace devnode
