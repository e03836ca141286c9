// Facets: which fields `facets` asks for (checked against the filterable ones), and each one's
// facetDistribution and facetStats over the documents a search matched.
#include <algorithm>
#include <limits>

#include "search_engine.hpp"

namespace devnode {

namespace {

// Meilisearch counts facet values document by document up to this many candidates
// (`CANDIDATES_THRESHOLD` in milli's facet_distribution.rs), and through its facet levels past it.
constexpr std::size_t kFacetCandidatesThreshold = 3000;

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

// One facet field's values counted over the matched documents.
struct ValueCounts {
    std::vector<std::uint64_t> counts;    // by value id: documents
    std::vector<std::uint32_t> spelling;  // by value id: that of the first document holding it
    std::optional<std::uint32_t> min_number, max_number;  // value ids
    bool present = false;  // some matched document has the field, whatever it holds
};

ValueCounts count_values(const FacetColumn& column, const std::vector<std::uint32_t>& matched) {
    ValueCounts out;
    out.counts.assign(column.values, 0);
    out.spelling.assign(column.values, 0);
    for (const std::uint32_t slot : matched) {
        out.present = out.present || column.present[slot];
        for (auto e = column.start[slot]; e < column.start[slot + 1]; ++e) {
            const auto& entry = column.entries[e];
            if (out.counts[entry.value]++ == 0) out.spelling[entry.value] = entry.spelling;
            if (entry.value < column.numbers.size()) {
                out.min_number = std::min(out.min_number.value_or(entry.value), entry.value);
                out.max_number = std::max(out.max_number.value_or(entry.value), entry.value);
            }
        }
    }
    return out;
}

// `sortFacetValuesBy` for a field: its own entry, else `*`'s, else alpha.
std::string facet_order(const json& faceting, const std::string& field) {
    const auto& by = faceting["sortFacetValuesBy"];
    if (by.contains(field)) return by[field].get<std::string>();
    if (by.contains("*")) return by["*"].get<std::string>();
    return "alpha";
}

// The distribution of one field: numbers, then strings in the order of their normalized
// form, or by count; at most `max_values` of them.
json distribution(const FacetColumn& column, const ValueCounts& values, const std::string& order,
                  std::size_t candidates, std::size_t max_values) {
    std::vector<std::pair<std::string, std::uint64_t>> number_entries, string_entries;
    for (std::uint32_t v = 0; v < column.values; ++v) {
        if (values.counts[v] == 0) continue;
        if (v < column.numbers.size()) {
            number_entries.emplace_back(number_key(column.numbers[v]), values.counts[v]);
        } else {
            string_entries.emplace_back(column.spellings[values.spelling[v]], values.counts[v]);
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
    } else if (candidates <= kFacetCandidatesThreshold) {
        // few candidates: Meilisearch reads each candidate's numbers and orders them by
        // their text ("1" < "10.5" < "2"); past the threshold it walks its number
        // levels, in numeric order
        std::sort(number_entries.begin(), number_entries.end());
    }
    json dist = json::object();
    for (auto* list : {&number_entries, &string_entries}) {
        for (const auto& [key, n] : *list) {
            if (dist.size() >= max_values) break;
            dist[key] = n;
        }
    }
    return dist;
}

}  // namespace

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

FacetResult count_facets(const SearchPlan& plan, const std::vector<std::uint32_t>& matched) {
    FacetResult out;
    const auto& faceting = plan.index.settings["faceting"];
    const auto max_values = plan.p.all_facet_values
                                ? std::numeric_limits<std::size_t>::max()
                                : faceting["maxValuesPerFacet"].get<std::size_t>();
    for (const auto& f : plan.facet_fields) {
        const FacetColumn& column = plan.cache.facet(plan.index, f);
        const ValueCounts values = count_values(column, matched);
        // left out when no document of the index holds the field or a field under it
        bool known = values.present;
        if (!known) {
            for (const auto& name : plan.cache.all_fields)
                known |= name == f || name.starts_with(f + ".");
        }
        if (!known) continue;
        out.distribution[f] =
            distribution(column, values, facet_order(faceting, f), matched.size(), max_values);
        if (values.min_number) {
            out.stats[f] = json{{"min", column.numbers[*values.min_number]},
                                {"max", column.numbers[*values.max_number]}};
        }
    }
    return out;
}

}  // namespace devnode
