#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <miroir/merge/facets.hpp>
#include <miroir/routing/shard_field.hpp>

namespace miroir::merge {

using json = nlohmann::ordered_json;

namespace {

bool parse_number(const std::string& s, double& out) {
    if (s.empty()) return false;
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && std::isfinite(out);
}

}  // namespace

std::string fold(std::string_view value) {
    const auto first = value.find_first_not_of(' ');
    const auto last = value.find_last_not_of(' ');
    std::string out(first == std::string_view::npos ? std::string_view()
                                                    : value.substr(first, last - first + 1));
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

void FacetSums::add(const std::string& value, std::uint64_t count) {
    auto folded = fold(value);
    auto [it, inserted] = index_.try_emplace(folded, values_.size());
    if (inserted) {
        FacetValue v;
        v.key = value;
        v.is_number = parse_number(value, v.number);
        v.folded = std::move(folded);
        values_.push_back(std::move(v));
    }
    values_[it->second].count += count;
}

AlphaOrder alpha_order_for(std::uint64_t candidates) {
    return candidates <= kFacetCandidatesThreshold ? AlphaOrder::numbers_by_text
                                                   : AlphaOrder::numbers_by_value;
}

std::vector<FacetValue> FacetSums::ordered(const json& faceting, const std::string& field,
                                           AlphaOrder alpha) const {
    auto values = values_;
    std::sort(values.begin(), values.end(), [alpha](const FacetValue& a, const FacetValue& b) {
        if (alpha == AlphaOrder::keys_by_text) return a.key < b.key;
        if (a.is_number != b.is_number) return a.is_number;
        if (a.is_number && alpha == AlphaOrder::numbers_by_value) return a.number < b.number;
        return a.folded < b.folded;
    });
    const json by = faceting.value("sortFacetValuesBy", json::object());
    const std::string order = by.contains(field) ? by[field].get<std::string>()
                              : by.contains("*") ? by["*"].get<std::string>()
                                                 : "alpha";
    if (order == "count") {
        // equal counts: the larger value first, as a node's walk of its facet tree gives them
        // (merged federated facets: by count alone, numbers among the strings)
        std::sort(values.begin(), values.end(), [alpha](const FacetValue& a, const FacetValue& b) {
            if (a.is_number != b.is_number && alpha != AlphaOrder::keys_by_text) {
                return a.is_number;
            }
            if (a.count != b.count) return a.count > b.count;
            if (alpha == AlphaOrder::keys_by_text) return a.key < b.key;  // (no order of its own)
            if (a.is_number && b.is_number) return a.number > b.number;
            if (a.is_number != b.is_number) return a.key > b.key;
            return a.folded > b.folded;
        });
    }
    const auto max_values = faceting.value("maxValuesPerFacet", std::uint64_t{100});
    if (values.size() > max_values) values.resize(max_values);
    return values;
}

// Sums the nodes' facet distributions and orders and truncates them as the index's faceting
// settings say.
json merge_facets(const std::vector<const json*>& parts, const json& faceting, AlphaOrder alpha) {
    std::map<std::string, FacetSums> sums;
    std::vector<std::string> fields;
    for (const json* part : parts) {
        if (!part) continue;
        for (auto f = part->begin(); f != part->end(); ++f) {
            if (f.key().starts_with(routing::kReservedPrefix)) continue;
            if (!sums.contains(f.key())) fields.push_back(f.key());
            auto& values = sums[f.key()];
            for (auto v = f.value().begin(); v != f.value().end(); ++v) {
                values.add(v.key(), v.value().get<std::uint64_t>());
            }
        }
    }
    json out = json::object();
    for (const auto& field : fields) {
        json dist = json::object();
        for (const auto& v : sums[field].ordered(faceting, field, alpha)) {
            dist[v.key] = v.count;
        }
        out[field] = std::move(dist);
    }
    return out;
}

json merge_facet_stats(const std::vector<const json*>& parts) {
    json out = json::object();
    for (const json* part : parts) {
        if (!part) continue;
        for (auto f = part->begin(); f != part->end(); ++f) {
            if (f.key().starts_with(routing::kReservedPrefix)) continue;
            const double lo = f.value().value("min", 0.0);
            const double hi = f.value().value("max", 0.0);
            if (!out.contains(f.key())) {
                out[f.key()] = {{"min", lo}, {"max", hi}};
            } else {
                auto& s = out[f.key()];
                s["min"] = std::min(s["min"].get<double>(), lo);
                s["max"] = std::max(s["max"].get<double>(), hi);
            }
        }
    }
    return out;
}

json facet_search_answer(const std::vector<json>& answers, const json& faceting,
                         const std::string& field) {
    FacetSums sums;
    std::uint64_t processing = 0;
    json query;
    for (const auto& a : answers) {
        if (a.is_null()) continue;
        const auto took = a.value("processingTimeMs", json());
        if (took.is_number_unsigned()) processing = std::max(processing, took.get<std::uint64_t>());
        query = a.value("facetQuery", json());
        for (const auto& hit : a.value("facetHits", json::array())) {
            sums.add(hit.value("value", std::string()), hit.value("count", std::uint64_t{0}));
        }
    }
    json hits = json::array();
    for (const auto& v : sums.ordered(faceting, field)) {
        json hit;
        hit["value"] = v.key;
        hit["count"] = v.count;
        hits.push_back(std::move(hit));
    }
    json out;
    out["facetHits"] = std::move(hits);
    out["facetQuery"] = query;
    out["processingTimeMs"] = processing;
    return out;
}

}  // namespace miroir::merge
