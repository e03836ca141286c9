// The client's answer to a search from the nodes' answers (see merge/search.hpp).
#include <algorithm>
#include <cmath>

#include <miroir/merge/facets.hpp>
#include <miroir/merge/order.hpp>
#include <miroir/merge/search.hpp>
#include <miroir/routing/shard_field.hpp>

namespace miroir::merge {

using json = nlohmann::ordered_json;

namespace {

std::uint64_t uint_or(const json& body, const char* key, std::uint64_t fallback) {
    const auto it = body.find(key);
    return it != body.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : fallback;
}

// The total: the nodes' sum; with distinct, the distinct values the nodes counted plus the
// hits without a value when every node could count them, else the sum less the duplicates the
// merge saw. Removes the facet Miroir added for the count. `candidates`: the nodes' sum,
// which the facet order depends on.
std::uint64_t total_hits(const SearchAsk& ask, std::vector<json>& answers, std::uint64_t dropped,
                         std::uint64_t& candidates) {
    std::uint64_t total = 0, valueless = 0;
    std::set<std::string> values;
    bool exact = ask.count_values;
    const auto max_values = ask.faceting.value("maxValuesPerFacet", std::uint64_t{100});
    for (auto& a : answers) {
        if (a.is_null()) continue;
        const auto node_total = uint_or(a, ask.page_mode ? "totalHits" : "estimatedTotalHits", 0);
        total += node_total;
        if (!ask.count_values) continue;
        const auto& field = *ask.distinct;
        const json* dist = nullptr;
        if (a.contains("facetDistribution") && a["facetDistribution"].contains(field)) {
            dist = &a["facetDistribution"][field];
        }
        if (!dist || !dist->is_object() || dist->size() >= max_values) {
            exact = exact && node_total == 0;
            continue;
        }
        for (const auto& [key, n] : dist->items()) values.insert(fold(key));
        valueless += node_total - std::min<std::uint64_t>(node_total, dist->size());
        if (ask.facet_added) {
            a["facetDistribution"].erase(field);
            if (a.contains("facetStats")) a["facetStats"].erase(field);
            if (!ask.client_facets) {
                a.erase("facetDistribution");
                a.erase("facetStats");
            }
        }
    }
    candidates = total;
    return exact ? values.size() + valueless : total - std::min(total, dropped);
}

}  // namespace

std::uint64_t window_start(const SearchAsk& ask) {
    if (!ask.page_mode) return ask.offset;
    return ask.page > 0 ? (ask.page - 1) * ask.hits_per_page : 0;
}

std::uint64_t window_length(const SearchAsk& ask) {
    if (!ask.page_mode) return ask.limit;
    return ask.page > 0 ? ask.hits_per_page : 0;
}

std::vector<std::string> distinct_keys(const json& hit, const std::string& field) {
    const json* v = field_at(hit, field);
    std::vector<std::string> keys;
    if (!v) return keys;
    auto add = [&keys](const json& x) {
        if (x.is_string()) {
            keys.push_back("s" + fold(x.get<std::string>()));
        } else if (x.is_number()) {
            const double d = x.get<double>();
            keys.push_back(d == std::floor(d) && std::fabs(d) < 1e15
                               ? "n" + std::to_string(static_cast<long long>(d))
                               : "n" + json(d).dump());
        } else if (!x.is_null()) {
            keys.push_back("o" + x.dump());
        }
    };
    if (v->is_array()) {
        for (const auto& x : *v) add(x);
    } else {
        add(*v);
    }
    return keys;
}

Order without_duplicates(const std::vector<const json*>& lists, const Order& order,
                         const std::string& field, std::uint64_t& dropped) {
    Order kept;
    std::set<std::string> seen;
    dropped = 0;
    for (const auto& at : order) {
        const auto keys = distinct_keys((*lists[at.first])[at.second], field);
        if (std::any_of(keys.begin(), keys.end(),
                        [&seen](const std::string& k) { return seen.contains(k); })) {
            ++dropped;
            continue;
        }
        seen.insert(keys.begin(), keys.end());
        kept.push_back(at);
    }
    return kept;
}

json search_answer(const SearchAsk& ask, std::vector<json>& answers,
                   const std::vector<json*>& lists, const Order& kept, std::uint64_t dropped,
                   const std::string& request_uid) {
    std::uint64_t candidates = 0;
    const auto total = total_hits(ask, answers, dropped, candidates);

    std::uint64_t processing = 0;
    const json* first = nullptr;
    std::vector<const json*> distributions, stats;
    for (auto& a : answers) {
        if (a.is_null()) continue;
        if (!first) first = &a;
        processing = std::max(processing, uint_or(a, "processingTimeMs", 0));
        if (a.contains("facetDistribution")) distributions.push_back(&a["facetDistribution"]);
        if (a.contains("facetStats")) stats.push_back(&a["facetStats"]);
    }

    json hits = json::array();
    std::uint64_t semantic_hits = 0;  // in the window: hits of the semantic side
    const auto from = window_start(ask), count = window_length(ask);
    for (std::uint64_t i = from; i < kept.size() && i < from + count; ++i) {
        json& hit = (*lists[kept[i].first])[kept[i].second];
        const auto details = hit.find("_rankingScoreDetails");
        if (details != hit.end() && details->is_object() && details->contains("vectorSort")) {
            ++semantic_hits;
        }
        strip_reserved(hit, ask.keep_expiry);
        if (hit.contains("_formatted") && hit["_formatted"].is_object()) {
            strip_reserved(hit["_formatted"], ask.keep_expiry);
        }
        if (!ask.want_score) hit.erase("_rankingScore");
        if (!ask.want_details) hit.erase("_rankingScoreDetails");
        if (ask.retrieved) hit.erase(*ask.retrieved);
        hits.push_back(std::move(hit));
    }

    json out;
    out["hits"] = std::move(hits);
    out["query"] = first ? first->value("query", json(ask.q)) : json(ask.q);
    out["processingTimeMs"] = processing;
    if (ask.page_mode) {
        out["hitsPerPage"] = ask.hits_per_page;
        out["page"] = ask.page;
        out["totalPages"] = ask.hits_per_page ? (total + ask.hits_per_page - 1) / ask.hits_per_page
                                              : std::uint64_t{0};
        out["totalHits"] = total;
    } else {
        out["limit"] = ask.limit;
        out["offset"] = ask.offset;
        out["estimatedTotalHits"] = total;
    }
    if (first && first->contains("facetDistribution")) {
        out["facetDistribution"] =
            merge_facets(distributions, ask.faceting, alpha_order_for(candidates));
    }
    if (first && first->contains("facetStats")) out["facetStats"] = merge_facet_stats(stats);
    out["requestUid"] = request_uid;
    if (ask.semantic_count || (first && first->contains("semanticHitCount"))) {
        out["semanticHitCount"] = semantic_hits;
    }
    return out;
}

json similar_answer(const SimilarAsk& ask, std::vector<json>& answers) {
    struct Entry {
        double score;
        json* hit;
        std::optional<routing::Ord> place;
    };
    std::vector<Entry> entries;
    std::uint64_t total = 0, processing = 0;
    for (auto& a : answers) {
        if (a.is_null() || !a.contains("hits")) continue;
        total += uint_or(a, "estimatedTotalHits", 0);
        processing = std::max(processing, uint_or(a, "processingTimeMs", 0));
        for (auto& hit : a["hits"]) {
            entries.push_back({hit.value("_rankingScore", 0.0), &hit, place_of(hit)});
        }
    }
    // equally similar documents in insertion order, as one node gives them
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& x, const Entry& y) {
        if (x.score != y.score) return x.score > y.score;
        return compare_places(x.place, y.place) < 0;
    });
    json hits = json::array();
    for (std::uint64_t i = ask.offset; i < entries.size() && i < ask.offset + ask.limit; ++i) {
        json& hit = *entries[i].hit;
        merge::strip_reserved(hit);
        hit.erase("_rankingScore");
        hit.erase("_rankingScoreDetails");
        if (ask.want_score) hit["_rankingScore"] = entries[i].score;
        if (ask.want_details) {
            json sort;
            sort["order"] = 0;
            sort["similarity"] = entries[i].score;
            hit["_rankingScoreDetails"] = json::object({{"vectorSort", sort}});
        }
        hits.push_back(std::move(hit));
    }
    json out;
    out["hits"] = std::move(hits);
    out["id"] = ask.id;
    out["processingTimeMs"] = processing;
    out["limit"] = ask.limit;
    out["offset"] = ask.offset;
    out["estimatedTotalHits"] = total;
    return out;
}

const json* field_at(const json& doc, const std::string& path) {
    if (!doc.is_object()) return nullptr;
    if (const auto it = doc.find(path); it != doc.end()) return &*it;
    const json* v = &doc;
    std::size_t start = 0;
    while (v && start <= path.size()) {
        auto dot = path.find('.', start);
        if (dot == std::string::npos) dot = path.size();
        const auto key = path.substr(start, dot - start);
        const auto it = v->is_object() ? v->find(key) : v->end();
        v = v->is_object() && it != v->end() ? &*it : nullptr;
        start = dot + 1;
    }
    return v;
}

void strip_reserved(json& object, bool keep_expiry) {
    for (auto it = object.begin(); it != object.end();) {
        if (it.key().starts_with(routing::kReservedPrefix) &&
            !(keep_expiry && it.key() == routing::kExpiresField)) {
            it = object.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace miroir::merge
