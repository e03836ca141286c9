// What the search files share (search.cpp runs a search in phases, the others hold them): the
// index's search structures, the checked request, a candidate's matches and a ranked hit.
//
//   plan (search.cpp) → match (search_match.cpp) → rank (search_rank.cpp) → semantic merge,
//   threshold, distinct (search.cpp) → facets (search_facets.cpp) → window → hits formatted
//   (search_format.cpp) → response (search.cpp)
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "filter.hpp"
#include "fuzzy.hpp"
#include "search.hpp"

namespace devnode {

// The position rules' largest cost of one query word (Meilisearch's scale).
constexpr int kMaxPositionCost = 10;

ApiError search_error(const std::string& param, const std::string& message);

// Whether `s` matches `pattern`: `*` alone, or one `*` standing for any run of characters.
bool glob(std::string_view pattern, std::string_view s);

// A number as facet distributions and distinct write it: integers without a fraction.
std::string number_key(double d);

// --- the index's search structures (search_index.cpp) ---------------------------------------

struct WordTable;
struct SlotTokens;

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

// What search derives from an index's documents, built once per change of the index.
struct SearchCache {
    // facet fields' columns, each built by the first search that asks for it
    mutable std::map<std::string, std::shared_ptr<const FacetColumn>> facets;
    const FacetColumn& facet(const Index& index, const std::string& field) const;
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

// The index's search structures, rebuilt when a write made them stale.
const SearchCache& cache_of(const Index& index);

// --- ranking rules and ranked hits (search_rank.cpp) ----------------------------------------

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

struct SortRule {
    std::string field;
    bool asc = true;
    std::string key;  // "field:asc"
};

// The index's ranking rules and the request's sort rules, checked.
struct RankingRules {
    std::vector<std::string> names;
    std::vector<RuleKind> kinds;  // each rule's kind, decided once rather than per document
    std::vector<std::optional<SortRule>> custom;  // custom rules (`field:asc|desc`), by position
    std::vector<SortRule> sort;                   // the `sort` parameter's rules
};

// Reads the rankingRules setting and checks `sort` against it and the sortable attributes.
RankingRules ranking_rules(const json& settings, const SearchParams& p);

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

// A sort rule's value as JSON: the number, the string or null.
json sort_value_json(const RuleResult& r);

struct Hit {
    std::uint32_t slot;
    const json* doc;
    std::vector<RuleResult> rules;
    std::vector<Details> details;  // parallel to rules, only when details are asked for
    double score = 1.0;
    bool semantic = false;  // won by the semantic side of a hybrid search
    double weighted = 0;    // hybrid: the score weighted by the semantic ratio
};

// The bucket sort's order: rule by rule, then internal id.
bool hit_before(const Hit& a, const Hit& b);

// --- the checked request (search.cpp) -------------------------------------------------------

// What a search asks of an index, checked against its settings: everything decided before
// any document is read. The rules' names live here while the search's hits point at them.
struct SearchPlan {
    const Index& index;
    const SearchParams& p;
    const SearchCache& cache;
    FilterPtr filter;
    std::vector<int> weight;     // by searchable field: its weight, -1 when not searched
    std::uint64_t heaviest = 0;  // the heaviest searchable field's weight
    RankingRules rules;
    std::vector<std::string> facet_fields;  // what `facets` asks for, sorted
    std::vector<std::string> words;         // the query's words (the first kMaxQueryWords)
    std::vector<Term> terms = {};           // the words with their typo budgets
    bool placeholder = false;               // no query words
    bool semantic_side = false;             // vector or hybrid search: the vector side runs
    bool keyword_side = false;              // the keyword side runs
};

// --- matching (search_match.cpp) ------------------------------------------------------------

// How a document matches one query term.
struct TermMatch {
    int typos = -1;  // -1: no match
    bool exact = false;
    int attribute = -1;     // the lightest weight among the attributes it matches in
    int position_cost = 0;  // the lowest position cost among its occurrences
    std::vector<std::pair<int, int>> positions;  // (attribute, position)
};

// A document the keyword side matched: which terms match, with how many typos, where.
struct Candidate {
    std::uint32_t slot;
    const json* doc;
    std::vector<TermMatch> matches;
    std::size_t k = 0;              // number of terms the words rule kept (the size of `used`)
    std::vector<std::size_t> used;  // those terms, in query order
};

// The query's terms with their typo budgets (the last one a prefix when the query ends in a
// word).
std::vector<Term> query_terms(const json& settings, const std::string& q,
                              const std::vector<std::string>& words);

// The keyword side's matching: the dictionary words each term matches (with their typos), the
// documents worth reading (those holding a word of the term the matching strategy drops last;
// every document for a placeholder search), and each one's matches read from its tokens.
// `last` drops the query's words from its end; `frequency` drops first the words most
// documents of this node hold, those of equal counts together, and a word no document holds
// before any other (`removal_order_for_terms_matching_strategy_frequency` in milli).
class KeywordMatcher {
  public:
    explicit KeywordMatcher(const SearchPlan& plan);
    // The documents worth reading, ascending.
    const std::vector<std::uint32_t>& pool() const { return pool_; }
    // The query words as dictionary ids, for the exactness rule; nullopt when one of them is
    // not in the dictionary (it cannot start or equal any attribute then).
    const std::optional<std::vector<std::uint32_t>>& word_ids() const { return word_ids_; }
    // Fills `c` (its buffers reused) with the document's matches; false when the matching
    // strategy leaves the document out.
    bool match(std::uint32_t slot, const json& doc, Candidate& c) const;

  private:
    void match_dictionary_words();
    // Each term's group in the order the matching strategy drops them (0 first; the last
    // group is never dropped), from the number of documents holding each term.
    void group_terms(const std::vector<std::uint64_t>& holders);
    void scan_attribute(std::uint32_t slot, int attribute, Candidate& c) const;

    const SearchPlan& plan_;
    std::vector<std::uint32_t> pool_;
    // for each term, the dictionary words it matches (by position) with how many typos, or -1
    std::vector<std::vector<std::int8_t>> term_words_;
    std::vector<std::int64_t> exact_id_;  // for each term, its own word's position, or -1
    std::vector<std::size_t> group_;      // for each term, its drop group (group_terms)
    std::size_t groups_ = 0;
    std::optional<std::vector<std::uint32_t>> word_ids_;
};

// Ranks candidates by the plan's rules: each rule's rank, its details when asked for, and the
// score folding the relevancy ranks.
class Ranker {
  public:
    Ranker(const SearchPlan& plan, const KeywordMatcher& matcher)
        : plan_(plan), word_ids_(matcher.word_ids()) {}
    // Fills `h` (its buffers are reused from one candidate to the next).
    void rank(const Candidate& c, Hit& h) const;

  private:
    void add_sort_value(const json& doc, const SortRule& rule, Hit& h) const;
    // A relevancy rule's rank; false for a rule that ranks nothing.
    bool rank_relevancy(RuleKind kind, const Candidate& c, RuleResult& r, Details& d) const;
    void rank_exactness(const Candidate& c, RuleResult& r, Details& d) const;

    const SearchPlan& plan_;
    const std::optional<std::vector<std::uint32_t>>& word_ids_;
};

// --- facets (search_facets.cpp) -------------------------------------------------------------

// The facet fields `facets` asks for, each pattern checked against the filterable ones.
std::vector<std::string> facets_asked(const json& settings, const SearchCache& cache,
                                      const SearchParams& p);

struct FacetResult {
    json distribution = json::object();
    json stats = json::object();
};

// facetDistribution and facetStats over the matched documents (slots, ascending).
FacetResult count_facets(const SearchPlan& plan, const std::vector<std::uint32_t>& matched);

// --- hits as the response shows them (search_format.cpp) ------------------------------------

json format_hit(const SearchPlan& plan, const Hit& h);

}  // namespace devnode
