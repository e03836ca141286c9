// Federated multi-search: every query runs on its index, and the hits of all queries are merged
// into one list the way Meilisearch's federated search merges them (weighted scores, sort
// values, then the query position), with one pagination, facets per index or merged.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <ranges>
#include <set>

#include <miroir/http/tenant_token.hpp>
#include <miroir/util/time.hpp>

#include "filter.hpp"
#include "node.hpp"
#include "search.hpp"

namespace devnode {

namespace {

const std::vector<std::string> kFederationFields = {
    "limit",         "offset",      "page",     "hitsPerPage",
    "facetsByIndex", "mergeFacets", "distinct", "showPerformanceDetails",
    "personalize"};

// An error of a query that Meilisearch reports with the query's path, not `Inside .queries[i]`.
struct Unprefixed {
    ApiError error;
};

// One hit's place in the merge: its weighted values, its query and its weighted score.
struct Entry {
    json values;
    std::size_t query = 0;
    double weighted = 0;
    json* hit = nullptr;
};

// 6.4 of Meilisearch's federated merge. Negative when `a` comes first.
int compare(const Entry& a, const Entry& b) {
    const auto& l = a.values;
    const auto& r = b.values;
    std::size_t i = 0;
    for (; i < l.size() && i < r.size(); ++i) {
        const auto& x = l[i];
        const auto& y = r[i];
        const bool x_score = !x.contains("sort");
        const bool y_score = !y.contains("sort");
        if (x_score && y_score) {
            const double dx =
                x.contains("score") ? x["score"].get<double>() : x["vector"].get<double>();
            const double dy =
                y.contains("score") ? y["score"].get<double>() : y["vector"].get<double>();
            if (std::fabs(dx - dy) > std::numeric_limits<double>::epsilon())
                return dx > dy ? -1 : 1;
            continue;
        }
        if (!x_score && !y_score && x["sort"]["asc"] == y["sort"]["asc"]) {
            const bool asc = x["sort"]["asc"].get<bool>();
            const auto& vx = x["sort"]["value"];
            const auto& vy = y["sort"]["value"];
            if (vx.is_null() != vy.is_null()) return vx.is_null() ? 1 : -1;
            if (vx.is_number() != vy.is_number()) return vx.is_number() ? -1 : 1;
            int c = 0;
            if (vx.is_number()) {
                const double nx = vx.get<double>(), ny = vy.get<double>();
                c = nx < ny ? -1 : nx > ny ? 1 : 0;
            } else if (vx.is_string()) {
                c = vx.get<std::string>().compare(vy.get<std::string>());
                c = c < 0 ? -1 : c > 0 ? 1 : 0;
            }
            if (c != 0) return asc ? c : -c;
            continue;
        }
        // incomparable: more remaining groups first, then the weighted score
        const auto left = l.size() - i, right = r.size() - i;
        if (left != right) return left > right ? -1 : 1;
        if (a.weighted != b.weighted) return a.weighted > b.weighted ? -1 : 1;
        return a.query < b.query ? -1 : a.query > b.query ? 1 : 0;
    }
    if (l.size() != r.size()) return l.size() > r.size() ? -1 : 1;
    return a.query < b.query ? -1 : a.query > b.query ? 1 : 0;
}

std::uint64_t window_param(const json& federation, const char* key, std::uint64_t fallback) {
    if (!federation.contains(key) || federation[key].is_null()) return fallback;
    if (!federation[key].is_number_unsigned()) {
        throw error(400, "invalid_search_" + snake_case(key),
                    std::string("Invalid value type at `.federation.") + key +
                        "`: expected a positive integer, but found " +
                        found_value(federation[key]));
    }
    return federation[key].get<std::uint64_t>();
}

// Sums facet distributions value by value (by normalized value) and orders them as a facet
// distribution is ordered: numbers, then strings, alphabetically; or by count.
json merge_distributions(const std::vector<std::pair<const json*, const json*>>& parts,
                         std::optional<std::uint64_t> max_values) {
    struct Value {
        std::string key;
        std::uint64_t count = 0;
        bool number = false;
        double n = 0;
        std::string norm;
    };
    std::map<std::string, std::vector<Value>> fields;
    std::vector<std::string> order;
    std::map<std::string, std::string> sort_by;
    for (const auto& [dist, faceting] : parts) {
        for (auto f = dist->begin(); f != dist->end(); ++f) {
            if (!fields.contains(f.key())) order.push_back(f.key());
            auto& values = fields[f.key()];
            const auto& by = (*faceting)["sortFacetValuesBy"];
            sort_by[f.key()] = by.contains(f.key()) ? by[f.key()].get<std::string>()
                               : by.contains("*")   ? by["*"].get<std::string>()
                                                    : "alpha";
            for (auto v = f.value().begin(); v != f.value().end(); ++v) {
                const auto norm = normalize(v.key());
                auto it = std::find_if(values.begin(), values.end(),
                                       [&](const Value& x) { return x.norm == norm; });
                if (it == values.end()) {
                    Value x;
                    x.key = v.key();
                    x.norm = norm;
                    char* end = nullptr;
                    x.n = std::strtod(v.key().c_str(), &end);
                    x.number = !v.key().empty() && end == v.key().c_str() + v.key().size();
                    values.push_back(x);
                    it = values.end() - 1;
                }
                it->count += v.value().get<std::uint64_t>();
            }
        }
    }
    json out = json::object();
    for (const auto& field : order) {
        // as Meilisearch's merge of the indexes' distributions: by the values' text, numbers
        // among them, or by count
        auto values = fields[field];
        std::sort(values.begin(), values.end(),
                  [](const Value& a, const Value& b) { return a.key < b.key; });
        if (sort_by[field] == "count") {
            std::stable_sort(values.begin(), values.end(),
                             [](const Value& a, const Value& b) { return a.count > b.count; });
        }
        json dist = json::object();
        for (const auto& v : values) {
            if (max_values && dist.size() >= *max_values) break;
            dist[v.key] = v.count;
        }
        out[field] = dist;
    }
    return out;
}

json merge_stats(const std::vector<const json*>& parts) {
    json out = json::object();
    for (const json* part : parts) {
        for (auto f = part->begin(); f != part->end(); ++f) {
            if (!out.contains(f.key())) {
                out[f.key()] = f.value();
                continue;
            }
            auto& s = out[f.key()];
            s["min"] = std::min(s["min"].get<double>(), f.value()["min"].get<double>());
            s["max"] = std::max(s["max"].get<double>(), f.value()["max"].get<double>());
        }
    }
    return out;
}

// The window of merged hits: `offset`/`limit`, or a page.
struct Window {
    bool page_mode = false;
    std::uint64_t offset = 0, limit = 0, page = 0, per_page = 0;
    std::uint64_t from = 0, count = 0;  // the merged hits shown
};

// `.federation`'s fields checked, and its window read.
Window federation_window(const json& federation) {
    if (!federation.is_object()) {
        throw bad_request("Invalid value type at `.federation`: expected an object, but found " +
                          found_value(federation));
    }
    for (auto it = federation.begin(); it != federation.end(); ++it) {
        if (std::find(kFederationFields.begin(), kFederationFields.end(), it.key()) ==
            kFederationFields.end()) {
            throw bad_request("Unknown field `" + it.key() +
                              "` inside `.federation`: expected one of " +
                              backquoted_list(kFederationFields));
        }
    }
    Window w;
    w.page_mode = federation.contains("page") || federation.contains("hitsPerPage");
    w.offset = window_param(federation, "offset", 0);
    w.limit = window_param(federation, "limit", 20);
    w.page = window_param(federation, "page", 1);
    w.per_page = window_param(federation, "hitsPerPage", 20);
    w.from = w.page_mode ? (w.page ? (w.page - 1) * w.per_page : 0) : w.offset;
    w.count = w.page_mode ? (w.page ? w.per_page : 0) : w.limit;
    return w;
}

// Pagination and facets belong to the federation, not to its queries.
void check_federated_query(const json& query, const std::string& uid) {
    for (const char* k : {"offset", "limit", "page", "hitsPerPage"}) {
        if (query.contains(k)) {
            throw error(400, "invalid_multi_search_query_pagination",
                        "Using pagination options is not allowed in federated queries.\n"
                        " - Hint: remove `" +
                            std::string(k) + "` from the query" +
                            " or remove `federation` from the request\n - Hint: pass "
                            "`federation.limit` and `federation.offset` for pagination "
                            "in federated search");
        }
    }
    if (query.contains("facets")) {
        throw error(400, "invalid_multi_search_query_facets",
                    "Using facet options is not allowed in federated queries.\n - Hint: "
                    "remove `facets` from the query or remove `federation` from the "
                    "request\n - Hint: pass "
                    "`federation.facetsByIndex." +
                        uid + ": " + query["facets"].dump() + "` for facets in federated search");
    }
}

// `federationOptions.weight` of query i (1 by default).
double query_weight(const json& options, std::size_t i) {
    if (!options.contains("weight")) return 1;
    const auto& w = options["weight"];
    const std::string at = ".queries[" + std::to_string(i) + "].federationOptions.weight";
    if (!w.is_number()) {
        throw Unprefixed(error(
            400, "invalid_multi_search_weight",
            "Invalid value type at `" + at + "`: expected a number, but found " + found_value(w)));
    }
    if (w.get<double>() < 0) {
        throw Unprefixed(error(400, "invalid_multi_search_weight",
                               "Invalid value at `" + at +
                                   "`: the value of `weight` is invalid, expected "
                                   "a positive float (>= 0.0)."));
    }
    return w.get<double>();
}

// One query of a federated search, run on its index.
struct Ran {
    std::string uid;
    double weight = 1;
    bool show_score = false, show_details = false;
    json result;
};

// Checks the request may search index `uid`, and ANDs its tenant token's filter into `query`.
using Authorize = std::function<void(const std::string& uid, json& query)>;

// Runs query i on its index for the merge: the first `window_end` hits, each with the values
// the merge compares, and the slots of the documents it matched (`_matched_slots`).
Ran run_query(State& state, json query, std::size_t i, std::uint64_t window_end,
              const Authorize& authorize) {
    if (!query.is_object() || !query.contains("indexUid")) {
        throw error(400, "missing_index_uid", "Missing field `indexUid`");
    }
    Ran one;
    one.uid = query["indexUid"].get<std::string>();
    query.erase("indexUid");
    check_federated_query(query, one.uid);
    if (query.contains("federationOptions")) {
        one.weight = query_weight(query["federationOptions"], i);
        query.erase("federationOptions");
    }
    authorize(one.uid, query);
    auto params = search_params_from_json(query);
    one.show_score = params.show_ranking_score;
    one.show_details = params.show_ranking_score_details;
    params.offset = 0;
    params.limit = window_end;
    params.show_ranking_score = true;
    params.federation = true;
    params.report_slots = true;
    auto it = state.indexes.find(one.uid);
    if (it == state.indexes.end()) throw index_not_found(one.uid);
    one.result = run_search(it->second, params);
    return one;
}

// Per index, the documents any of its queries matched: Meilisearch's federated total counts
// each once, and its facets are computed over them.
using MatchedSlots = std::map<std::string, std::set<std::uint32_t>>;

// Every query run, in order; an error names its query (`Inside .queries[i]`).
std::vector<Ran> run_queries(State& state, const json& queries, std::uint64_t window_end,
                             const Authorize& authorize, MatchedSlots& matched) {
    std::vector<Ran> ran;
    for (std::size_t i = 0; i < queries.size(); ++i) {
        try {
            Ran one = run_query(state, queries[i], i, window_end, authorize);
            auto& slots = matched[one.uid];
            for (const auto& slot : one.result["_matched_slots"]) {
                slots.insert(slot.get<std::uint32_t>());
            }
            one.result.erase("_matched_slots");
            ran.push_back(std::move(one));
        } catch (const Unprefixed& e) {
            throw e.error;
        } catch (const ApiError& e) {
            const unsigned status = e.code() == "index_not_found" ? 400 : e.status();
            throw ApiError(status, e.code(), e.type(), miroir::http::query_message(i, e.what()));
        }
    }
    return ran;
}

// Each query's hits as merge entries, their scores weighted; in each query's own order.
std::vector<std::vector<Entry>> weighted_entries(std::vector<Ran>& ran) {
    std::vector<std::vector<Entry>> lists(ran.size());
    for (std::size_t q = 0; q < ran.size(); ++q) {
        for (auto& hit : ran[q].result["hits"]) {
            Entry e;
            e.values = hit["_federation_values"];
            for (auto& v : e.values) {
                if (v.contains("score")) v["score"] = v["score"].get<double>() * ran[q].weight;
                if (v.contains("vector")) v["vector"] = v["vector"].get<double>() * ran[q].weight;
            }
            e.query = q;
            e.weighted = hit["_federation_score"].get<double>() * ran[q].weight;
            e.hit = &hit;
            lists[q].push_back(std::move(e));
        }
    }
    return lists;
}

// Each query's hits are in its own order already: a k-way merge of the queries' lists.
std::vector<Entry*> merge_order(std::vector<std::vector<Entry>>& lists) {
    std::vector<Entry*> entries;
    std::vector<std::size_t> heads(lists.size(), 0);
    for (;;) {
        std::size_t best = lists.size();
        for (std::size_t q = 0; q < lists.size(); ++q) {
            if (heads[q] == lists[q].size()) continue;
            if (best == lists.size() || compare(lists[q][heads[q]], lists[best][heads[best]]) < 0) {
                best = q;
            }
        }
        if (best == lists.size()) break;
        entries.push_back(&lists[best][heads[best]++]);
    }
    return entries;
}

// Every query's hits, merged, the window of them shown with `_federation`; a document met
// again in the same index is dropped.
json merged_hits(std::vector<Ran>& ran, const Window& window) {
    auto lists = weighted_entries(ran);
    std::set<std::pair<std::string, std::uint64_t>> seen;
    json hits = json::array();
    std::uint64_t kept = 0;
    for (const Entry* entry : merge_order(lists)) {
        const Entry& e = *entry;
        json& hit = *e.hit;
        const auto& r = ran[e.query];
        if (!seen.emplace(r.uid, hit["_federation_slot"].get<std::uint64_t>()).second) {
            continue;
        }
        if (kept++ < window.from || hits.size() >= window.count) continue;
        const double score = hit["_federation_score"].get<double>();
        hit.erase("_federation_values");
        hit.erase("_federation_slot");
        hit.erase("_federation_score");
        if (!r.show_score) hit.erase("_rankingScore");
        json fed;
        fed["indexUid"] = r.uid;
        fed["queriesPosition"] = e.query;
        fed["weightedRankingScore"] = score * r.weight;
        hit["_federation"] = fed;
        hits.push_back(std::move(hit));
    }
    return hits;
}

// An index's facetsByIndex entry run over the documents its queries matched (`slots`); an
// error names the entry, and notes an index no query searches.
json index_facets(State& state, const std::string& uid, const json& facets,
                  const std::set<std::uint32_t>& slots, bool searched) {
    const std::string lead = "Inside `.federation.facetsByIndex." + uid + "`: ";
    const std::string note =
        searched ? "" : "\n - Note: index `" + uid + "` is not used in queries";
    const auto found = state.indexes.find(uid);
    if (found == state.indexes.end()) {
        throw error(400, "index_not_found", lead + "Index `" + uid + "` not found." + note);
    }
    json query;
    query["facets"] = facets;
    query["limit"] = std::uint64_t{0};
    try {
        auto params = search_params_from_json(query);
        params.only_slots.emplace(slots.begin(), slots.end());
        return run_search(found->second, params);
    } catch (const ApiError& e) {
        throw ApiError(e.status(), e.code(), e.type(), lead + e.what() + note);
    }
}

// `facetsByIndex`, or with `mergeFacets` the indexes' distributions and stats merged.
void add_federated_facets(State& state, const json& federation, const MatchedSlots& matched,
                          json& out) {
    const json by_index = federation.value("facetsByIndex", json::object());
    if (!by_index.is_object() || by_index.empty()) return;
    json facets_by_index = json::object();
    std::vector<std::pair<const json*, const json*>> distributions;
    std::vector<const json*> stats;
    std::vector<json> results;
    results.reserve(by_index.size());  // `distributions` and `stats` point into it
    static const std::set<std::uint32_t> kNoSlots;
    for (auto it = by_index.begin(); it != by_index.end(); ++it) {
        if (it.value().is_null()) continue;
        // an index no query searches: its facets are checked, then left out
        const auto searched = matched.find(it.key());
        const bool used = searched != matched.end();
        results.push_back(
            index_facets(state, it.key(), it.value(), used ? searched->second : kNoSlots, used));
        if (!used) continue;
        const auto& result = results.back();
        facets_by_index[it.key()] =
            json{{"distribution", result["facetDistribution"]}, {"stats", result["facetStats"]}};
        distributions.emplace_back(&result["facetDistribution"],
                                   &state.indexes.find(it.key())->second.settings["faceting"]);
        stats.push_back(&result["facetStats"]);
    }
    const json merge = federation.value("mergeFacets", json());
    if (merge.is_object()) {
        std::optional<std::uint64_t> max;
        if (merge.contains("maxValuesPerFacet")) {
            max = merge["maxValuesPerFacet"].get<std::uint64_t>();
        }
        out["facetDistribution"] = merge_distributions(distributions, max);
        out["facetStats"] = merge_stats(stats);
    } else {
        out["facetsByIndex"] = std::move(facets_by_index);
    }
}

}  // namespace

json Node::federated_search(const Request& request, const json& body) {
    const json& federation = body["federation"];
    const Window window = federation_window(federation);
    const auto started = std::chrono::steady_clock::now();
    std::lock_guard lock(state_.mutex);
    // run every query, then merge their hits into one window
    MatchedSlots matched;
    auto ran = run_queries(
        state_, body["queries"], window.from + window.count,
        [&](const std::string& uid, json& query) {
            authorize_index(request, uid);
            miroir::http::apply_tenant_rules(request, uid, query);
        },
        matched);
    std::uint64_t total = 0;
    for (const auto& slots : matched | std::views::values) total += slots.size();
    json out;
    out["hits"] = merged_hits(ran, window);
    out["processingTimeMs"] = 0;
    if (window.page_mode) {
        out["hitsPerPage"] = window.per_page;
        out["page"] = window.page;
        out["totalPages"] = window.per_page ? (total + window.per_page - 1) / window.per_page : 0;
        out["totalHits"] = total;
    } else {
        out["limit"] = window.limit;
        out["offset"] = window.offset;
        out["estimatedTotalHits"] = total;
    }
    // facets per index, over the documents its queries matched
    add_federated_facets(state_, federation, matched, out);
    out["requestUid"] = new_uuid();
    if (federation.value("showPerformanceDetails", json(false)) == true) {
        out["performanceDetails"]["federated search"] =
            miroir::util::debug_duration(std::chrono::steady_clock::now() - started);
    }
    return out;
}

}  // namespace devnode
