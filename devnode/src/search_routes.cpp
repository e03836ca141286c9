// Search routes: GET/POST /indexes/{uid}/search, facet search, similar and POST /multi-search
// (federated in federation.cpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include <miroir/http/tenant_token.hpp>
#include <miroir/util/time.hpp>

#include "filter.hpp"
#include "node.hpp"
#include "search.hpp"

namespace devnode {

namespace http = miroir::http;
using http::Method;

namespace {

// facet-search's `facetName` (required, a string).
std::string facet_name(const json& body) {
    if (!body.contains("facetName") || body["facetName"].is_null()) {
        throw error(400, "missing_facet_search_facet_name", "Missing field `facetName`");
    }
    if (!body["facetName"].is_string()) {
        throw error(400, "invalid_facet_search_facet_name",
                    "Invalid value type at `.facetName`: expected a string, but found " +
                        found_value(body["facetName"]));
    }
    return body["facetName"].get<std::string>();
}

// The search that narrows a facet search: the search parameters facet search accepts (other
// fields are ignored), every value of the facet counted.
SearchParams narrowing_search(const json& body, const std::string& facet) {
    json narrowing = json::object();
    for (const char* k : {"q", "filter", "matchingStrategy", "attributesToSearchOn",
                          "rankingScoreThreshold", "hybrid", "vector"}) {
        if (body.contains(k)) narrowing[k] = body[k];
    }
    auto params = search_params_from_json(narrowing);
    params.limit = 0;
    params.facets = std::vector<std::string>{facet};
    params.all_facet_values = true;
    return params;
}

// The index must allow facet search, and on this facet.
void check_facet_searchable(const json& settings, const std::string& facet) {
    if (!settings["facetSearch"].get<bool>()) {
        throw error(400, "facet_search_disabled", "The facet search is disabled for this index");
    }
    if (!is_filterable(settings["filterableAttributes"], facet)) {
        throw error(
            400, "invalid_facet_search_facet_name",
            "Attribute `" + facet + "` is not facet-searchable. " +
                available_patterns(settings["filterableAttributes"], "facet-searchable", true) +
                " To make it facet-searchable add it to the `filterableAttributes` "
                "index settings.");
    }
}

// The string values of a distribution whose normalized form, or one of whose words, starts
// with the query; numbers are not facet-searchable.
std::vector<std::pair<std::string, std::uint64_t>> matching_values(const json& dist,
                                                                   const json& query) {
    const auto norm_query = query.is_string() ? normalize(query.get<std::string>()) : "";
    std::vector<std::pair<std::string, std::uint64_t>> found;
    for (auto v = dist.begin(); v != dist.end(); ++v) {
        char* end = nullptr;
        std::strtod(v.key().c_str(), &end);
        if (!v.key().empty() && end == v.key().c_str() + v.key().size()) continue;
        bool hit = norm_query.empty() || normalize(v.key()).starts_with(norm_query);
        for (const auto& word : tokenize(v.key())) hit = hit || word.starts_with(norm_query);
        if (hit) found.emplace_back(v.key(), v.value().get<std::uint64_t>());
    }
    return found;
}

// The values as facetHits: by count when the facet sorts so, at most maxValuesPerFacet.
json facet_hits(std::vector<std::pair<std::string, std::uint64_t>> found, const json& faceting,
                const std::string& facet) {
    std::string order = "alpha";
    const auto& by = faceting["sortFacetValuesBy"];
    if (by.contains(facet)) {
        order = by[facet].get<std::string>();
    } else if (by.contains("*")) {
        order = by["*"].get<std::string>();
    }
    if (order == "count") {
        std::stable_sort(found.begin(), found.end(),
                         [](const auto& a, const auto& b) { return a.second > b.second; });
    }
    const auto max = faceting["maxValuesPerFacet"].get<std::size_t>();
    json hits = json::array();
    for (const auto& [value, count] : found) {
        if (hits.size() >= max) break;
        hits.push_back(json{{"value", value}, {"count", count}});
    }
    return hits;
}

// POST /indexes/{uid}/facet-search: the facet values matching a query, with their counts.
Response facet_search(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    json body = json_body(r);
    if (!body.is_object()) throw bad_request("expected an object");
    miroir::http::apply_tenant_rules(r, uid, body);
    const auto facet = facet_name(body);
    json query = body.value("facetQuery", json(nullptr));
    if (!query.is_null() && !query.is_string()) {
        throw error(400, "invalid_facet_search_query",
                    "Invalid value type at `.facetQuery`: expected a string, but found " +
                        found_value(query));
    }
    const auto params = narrowing_search(body, facet);
    std::lock_guard lock(state.mutex);
    auto it = state.indexes.find(uid);
    if (it == state.indexes.end()) throw index_not_found(uid);
    const auto& settings = it->second.settings;
    check_facet_searchable(settings, facet);
    const auto result = run_search(it->second, params);
    const auto dist = result["facetDistribution"].value(facet, json::object());
    json out;
    out["facetHits"] = facet_hits(matching_values(dist, query), settings["faceting"], facet);
    out["facetQuery"] = query;
    out["processingTimeMs"] = 0;
    return respond(200, out);
}

// A search of one index; the caller does not hold the state mutex.
json search_index(State& state, const std::string& uid, const SearchParams& params) {
    check_index_uid(uid);
    std::lock_guard lock(state.mutex);
    auto it = state.indexes.find(uid);
    if (it == state.indexes.end()) throw index_not_found(uid);
    return run_search(it->second, params);
}

// POST /indexes/{uid}/search (a tenant token's filter ANDed in).
Response post_search(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    auto body = json_body(r);
    miroir::http::apply_tenant_rules(r, uid, body);
    const auto params = search_params_from_json(body);
    return respond(200, search_index(state, uid, params));
}

// GET /indexes/{uid}/search (a tenant token's filter ANDed in).
Response get_search(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    std::string query = r.query;
    if (r.tenant_rules) {
        std::vector<std::pair<std::string, std::string>> params;
        std::map<std::string, std::string> by_name;
        for (const auto& part : miroir::http::split_query(r.query)) {
            params.push_back(part);
            by_name[part.first] = part.second;
        }
        miroir::http::apply_tenant_query(r, uid, params, by_name);
        query = miroir::http::join_query(params);
    }
    const auto params = search_params_from_query(query);
    return respond(200, search_index(state, uid, params));
}

const std::vector<std::string> kSimilarFields = {"id",
                                                 "embedder",
                                                 "offset",
                                                 "limit",
                                                 "filter",
                                                 "attributesToRetrieve",
                                                 "retrieveVectors",
                                                 "showRankingScore",
                                                 "showRankingScoreDetails",
                                                 "showPerformanceDetails",
                                                 "rankingScoreThreshold"};

// What a similar request asks, checked (its display fields are read from the body as hits
// are shown).
struct SimilarRequest {
    std::string id;
    std::string embedder;
    std::uint64_t offset = 0, limit = 20;
    FilterPtr filter;
    std::optional<double> threshold;
};

SimilarRequest similar_request(const json& body) {
    for (auto it = body.begin(); it != body.end(); ++it) {
        if (std::find(kSimilarFields.begin(), kSimilarFields.end(), it.key()) ==
            kSimilarFields.end()) {
            throw bad_request("Unknown field `" + it.key() + "`: expected one of " +
                              backquoted_list(kSimilarFields));
        }
    }
    if (!body.contains("id")) throw error(400, "invalid_similar_id", "Missing field `id`");
    if (!body.contains("embedder") || !body["embedder"].is_string()) {
        throw error(400, "invalid_similar_embedder", "Missing field `embedder`");
    }
    SimilarRequest s;
    const auto& id_value = body["id"];
    s.id = id_value.is_string() ? id_value.get<std::string>() : id_value.dump();
    s.embedder = body["embedder"].get<std::string>();
    auto uint_field = [&](const char* name, std::uint64_t def) {
        if (!body.contains(name)) return def;
        if (!body[name].is_number_unsigned()) {
            throw error(400, std::string("invalid_similar_") + name,
                        std::string("Invalid value type at `.") + name +
                            "`: expected a positive integer, but found " + found_value(body[name]));
        }
        return body[name].get<std::uint64_t>();
    };
    s.offset = uint_field("offset", 0);
    s.limit = uint_field("limit", 20);
    s.filter = parse_filter(body.value("filter", json(nullptr)), "invalid_similar_filter");
    if (body.contains("rankingScoreThreshold") && body["rankingScoreThreshold"].is_number()) {
        s.threshold = body["rankingScoreThreshold"].get<double>();
    }
    return s;
}

// The other documents the filter lets through, by their best similarity to the target's
// vectors (at least the threshold), most similar first.
std::vector<std::pair<double, std::uint32_t>> similar_documents(const Index& index,
                                                                std::uint32_t target,
                                                                const SimilarRequest& s) {
    const auto reference = document_vectors(*index.slots[target], s.embedder);
    std::vector<std::pair<double, std::uint32_t>> ranked;
    for (std::uint32_t slot = 0; slot < index.slots.size(); ++slot) {
        if (!index.slots[slot] || slot == target) continue;
        if (!matches(s.filter, *index.slots[slot])) continue;
        double best = -1;
        for (const auto& a : reference) {
            for (const auto& b : document_vectors(*index.slots[slot], s.embedder)) {
                if (a.size() == b.size()) best = std::max(best, similarity(a, b));
            }
        }
        if (best < 0 || (s.threshold && best < *s.threshold)) continue;
        ranked.emplace_back(best, slot);
    }
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    return ranked;
}

// One similar hit: its displayed (and retrieved) fields, vectors and score as asked.
json similar_hit(const json& doc, double score, const json& displayed, const json& body) {
    std::optional<json> retrieve;
    if (body.contains("attributesToRetrieve") && body["attributesToRetrieve"].is_array()) {
        retrieve = body["attributesToRetrieve"];
    }
    auto in = [](const json& list, const std::string& field) {
        return std::any_of(list.begin(), list.end(),
                           [&](const json& p) { return p == "*" || p == field; });
    };
    json hit = json::object();
    for (auto f = doc.begin(); f != doc.end(); ++f) {
        if (f.key() != "_vectors" && in(displayed, f.key()) &&
            (!retrieve || in(*retrieve, f.key()))) {
            hit[f.key()] = f.value();
        }
    }
    if (body.value("retrieveVectors", false)) hit["_vectors"] = shown_vectors(doc);
    if (body.value("showRankingScore", false)) hit["_rankingScore"] = score;
    if (body.value("showRankingScoreDetails", false)) {
        hit["_rankingScoreDetails"] =
            json{{"vectorSort", json{{"order", 0}, {"similarity", score}}}};
    }
    return hit;
}

// /indexes/{uid}/similar: the documents most similar to one, by an embedder's vectors.
Response similar(State& state, const std::string& uid, const json& body) {
    const auto started = std::chrono::steady_clock::now();
    check_index_uid(uid);
    const SimilarRequest s = similar_request(body);
    std::lock_guard lock(state.mutex);
    auto it = state.indexes.find(uid);
    if (it == state.indexes.end()) throw index_not_found(uid);
    const Index& index = it->second;
    if (!index.settings["embedders"].contains(s.embedder)) {
        throw error(400, "invalid_similar_embedder",
                    "Cannot find embedder with name `" + s.embedder + "`.");
    }
    check_filterable(s.filter, index.settings["filterableAttributes"], "invalid_similar_filter");
    auto target = index.by_id.find(s.id);
    if (target == index.by_id.end()) {
        throw error(400, "not_found_similar_id",
                    "Invalid value at `.id`: Document `" + s.id + "` not found.");
    }
    const auto ranked = similar_documents(index, target->second, s);
    const auto& displayed = index.settings["displayedAttributes"];
    json hits = json::array();
    for (std::size_t i = s.offset; i < ranked.size() && hits.size() < s.limit; ++i) {
        hits.push_back(
            similar_hit(*index.slots[ranked[i].second], ranked[i].first, displayed, body));
    }
    json out;
    out["hits"] = hits;
    out["id"] = s.id;
    out["processingTimeMs"] = 0;
    out["limit"] = s.limit;
    out["offset"] = s.offset;
    out["estimatedTotalHits"] = ranked.size();
    if (body.value("showPerformanceDetails", json(false)) == true) {
        out["performanceDetails"]["similar"] =
            miroir::util::debug_duration(std::chrono::steady_clock::now() - started);
    }
    return respond(200, out);
}

// GET /indexes/{uid}/similar: the query parameters as a POST body.
Response get_similar(State& state, Request& r) {
    Query q(r.query, {"id", "embedder", "offset", "limit", "filter", "attributesToRetrieve",
                      "retrieveVectors", "showRankingScore", "showRankingScoreDetails",
                      "showPerformanceDetails", "rankingScoreThreshold"});
    json body = json::object();
    for (const char* k : {"id", "embedder", "filter"}) {
        if (auto v = q.get(k)) body[k] = *v;
    }
    for (const char* k : {"offset", "limit"}) {
        if (auto v = q.get_uint(k, std::string("invalid_similar_") + k)) body[k] = *v;
    }
    for (const char* k : {"retrieveVectors", "showRankingScore", "showRankingScoreDetails"}) {
        if (auto v = q.get_bool(k, "bad_request")) body[k] = *v;
    }
    if (auto v = q.get("attributesToRetrieve")) body["attributesToRetrieve"] = split_csv(*v);
    return similar(state, std::string(r.param("uid")), body);
}

}  // namespace

// One query of a non-federated multi-search: its index's answer, with `indexUid` first.
json Node::multi_search_query(const Request& request, json query) {
    if (!query.is_object() || !query.contains("indexUid")) {
        throw error(400, "missing_index_uid", "Missing field `indexUid`");
    }
    const auto uid = query["indexUid"].get<std::string>();
    query.erase("indexUid");
    if (query.contains("federationOptions")) {
        throw error(400, "invalid_multi_search_federation_options",
                    "Using `federationOptions` is not allowed in a non-federated "
                    "search.\n - Hint: remove `federationOptions` from the "
                    "query or add `federation` to the request.");
    }
    {
        std::lock_guard lock(state_.mutex);
        authorize_index(request, uid);
    }
    miroir::http::apply_tenant_rules(request, uid, query);
    json one;
    one["indexUid"] = uid;
    const auto params = search_params_from_json(query);
    const auto answer = search_index(state_, uid, params);
    for (auto it = answer.begin(); it != answer.end(); ++it) one[it.key()] = it.value();
    return one;
}

Response Node::multi_search(Request& r) {
    const auto body = json_body(r);
    miroir::http::check_multi_search(body);
    if (body.contains("federation") && !body["federation"].is_null()) {
        return respond(200, federated_search(r, body));
    }
    json results = json::array();
    const auto& queries = body["queries"];
    for (std::size_t i = 0; i < queries.size(); ++i) {
        try {
            results.push_back(multi_search_query(r, queries[i]));
        } catch (const ApiError& e) {
            // index_not_found is a 400 inside multi-search
            const unsigned status = e.code() == "index_not_found" ? 400 : e.status();
            throw ApiError(status, e.code(), e.type(), miroir::http::query_message(i, e.what()));
        }
    }
    return respond(200, json{{"results", results}});
}

void Node::add_search_routes() {
    add(Method::post, "/indexes/{uid}/search", "search",
        [this](Request& r) { return post_search(state_, r); });
    add(Method::get, "/indexes/{uid}/search", "search",
        [this](Request& r) { return get_search(state_, r); });
    add(Method::post, "/indexes/{uid}/facet-search", "search",
        [this](Request& r) { return facet_search(state_, r); });
    add(Method::post, "/indexes/{uid}/similar", "search",
        [this](Request& r) { return similar(state_, std::string(r.param("uid")), json_body(r)); });
    add(Method::get, "/indexes/{uid}/similar", "search",
        [this](Request& r) { return get_similar(state_, r); });
    add(
        Method::post, "/multi-search", "search", [this](Request& r) { return multi_search(r); },
        false);
}

}  // namespace devnode
