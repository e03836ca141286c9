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

// Sums of one facet's values, by normalized value, in first-seen order.
class FacetSums {
  public:
    void add(const std::string& value, std::uint64_t count);

    // Ordered as the faceting settings say for `field` (numbers first in numeric order, then
    // strings by their normalized form; or by count), at most maxValuesPerFacet.
    std::vector<FacetValue> ordered(const nlohmann::ordered_json& faceting,
                                    const std::string& field) const;

  private:
    std::vector<FacetValue> values_;
    std::map<std::string, std::size_t> index_;
};

// Sums facet distributions ({field: {value: count}}, Miroir's fields left out) and orders and
// truncates each field's values as `faceting` says.
nlohmann::ordered_json merge_facets(const std::vector<const nlohmann::ordered_json*>& parts,
                                    const nlohmann::ordered_json& faceting);

// facetStats: the smallest minimum and the largest maximum of each field.
nlohmann::ordered_json merge_facet_stats(const std::vector<const nlohmann::ordered_json*>& parts);

}  // namespace miroir::merge
