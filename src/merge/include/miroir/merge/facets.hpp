// Facet distributions from several nodes (or several indexes) as one: counts summed per
// normalized value, then ordered and truncated with an index's faceting settings. Pure, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace miroir::merge {

// A facet value as Meilisearch groups values: trimmed and lowercased.
std::string fold(std::string_view value);

// One facet value summed over the parts: the first casing seen stands for every casing of the
// same normalized value.
struct FacetValue {
    std::string key;
    std::uint64_t count = 0;
    bool is_number = false;
    double number = 0;
    std::string folded;
};

// How values are ordered alphabetically (`sortFacetValuesBy: alpha`).
enum class AlphaOrder {
    numbers_by_value,  // numbers first in numeric order, then strings by normalized form
    numbers_by_text,   // numbers first in the order of their text, then strings
    keys_by_text,      // every value by its text, numbers among them (federated mergeFacets)
};

// Meilisearch counts the facet values of at most this many candidates document by document,
// which orders numbers by their text ("1", "10.5", "2"); past it, through its number levels,
// in numeric order (`CANDIDATES_THRESHOLD`, milli's facet_distribution.rs).
inline constexpr std::uint64_t kFacetCandidatesThreshold = 3000;

// The order one node gives a search that matched `candidates` documents.
AlphaOrder alpha_order_for(std::uint64_t candidates);

// Sums of one facet's values, by normalized value, in first-seen order.
class FacetSums {
  public:
    void add(const std::string& value, std::uint64_t count);

    // Ordered as the faceting settings say for `field` (alphabetically in `alpha` order, or by
    // count, numbers first, the larger value first among equal counts), at most
    // maxValuesPerFacet.
    std::vector<FacetValue> ordered(const nlohmann::ordered_json& faceting,
                                    const std::string& field,
                                    AlphaOrder alpha = AlphaOrder::numbers_by_value) const;

  private:
    std::vector<FacetValue> values_;
    std::map<std::string, std::size_t> index_;
};

// Sums facet distributions ({field: {value: count}}, Miroir's fields left out) and orders and
// truncates each field's values as `faceting` says, alphabetically in `alpha` order.
nlohmann::ordered_json merge_facets(const std::vector<const nlohmann::ordered_json*>& parts,
                                    const nlohmann::ordered_json& faceting, AlphaOrder alpha);

// facetStats: the smallest minimum and the largest maximum of each field.
nlohmann::ordered_json merge_facet_stats(const std::vector<const nlohmann::ordered_json*>& parts);

// The client's facet-search answer from the nodes' answers (null where a node did not answer):
// facet hits summed per normalized value, ordered and cut as `faceting` says for `field`; the
// slowest node's processing time.
nlohmann::ordered_json facet_search_answer(const std::vector<nlohmann::ordered_json>& answers,
                                           const nlohmann::ordered_json& faceting,
                                           const std::string& field);

}  // namespace miroir::merge
