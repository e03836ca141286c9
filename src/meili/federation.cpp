// Federated multi-search through Miroir. Every query is searched through the fleet as a single
// search is (its hits merged across shards in one node's order), then the hits of all queries
// are merged as Meilisearch's federated search merges them: each hit's ranking becomes a list of
// weighted values (relevancy rules as one score × the query's weight, sort values, vector
// similarity × weight), compared value by value; a document met again in the same index is
// dropped; then one window, one total, and facets per index or merged.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <variant>

#include <miroir/fleet/context.hpp>
#include <miroir/http/params.hpp>
#include <miroir/merge/facets.hpp>
#include <miroir/merge/federation.hpp>
#include <miroir/merge/performance.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/search.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/util/uuid.hpp>

#include "network.hpp"
#include "search.hpp"

namespace miroir::meili {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

namespace {

const std::vector<std::string> kFederationFields = {
    "limit",         "offset",      "page",     "hitsPerPage",
    "facetsByIndex", "mergeFacets", "distinct", "showPerformanceDetails",
    "personalize"};

using Query = merge::FederatedQuery;

std::uint64_t window_param(const json& federation, const char* key, std::uint64_t fallback) {
    if (!federation.contains(key) || federation[key].is_null()) return fallback;
    if (!federation[key].is_number_unsigned()) {
        throw http::error(400, "invalid_search_" + http::snake_case(key),
                          std::string("Invalid value type at `.federation.") + key +
                              "`: expected a positive integer, but found " +
                              http::found_value(federation[key]));
    }
    return federation[key].get<std::uint64_t>();
}

// Checks one federated query; returns its search body (pagination, facets and
// federationOptions are the federation's business).
json checked_query(const json& raw, std::size_t i, Query& q) {
    const std::string prefix = "Inside `.queries[" + std::to_string(i) + "]`: ";
    q.uid = query_index_uid(raw, i);
    json query = raw;
    query.erase("indexUid");
    for (const char* k : {"offset", "limit", "page", "hitsPerPage"}) {
        if (query.contains(k)) {
            throw http::error(400, "invalid_multi_search_query_pagination",
                              prefix +
                                  "Using pagination options is not allowed in federated "
                                  "queries.\n - Hint: remove `" +
                                  k + "` from the query" +
                                  " or remove `federation` from the request\n - Hint: pass "
                                  "`federation.limit` and `federation.offset` for pagination in "
                                  "federated search");
        }
    }
    if (query.contains("facets")) {
        throw http::error(400, "invalid_multi_search_query_facets",
                          prefix +
                              "Using facet options is not allowed in federated queries.\n - "
                              "Hint: remove `facets` from the query or remove `federation` "
                              "from the request\n - Hint: pass "
                              "`federation.facetsByIndex." +
                              q.uid + ": " + query["facets"].dump() +
                              "` for facets in federated search");
    }
    if (query.contains("federationOptions")) {
        const auto& options = query["federationOptions"];
        if (options.is_object() && options.contains("weight")) {
            const auto& w = options["weight"];
            const std::string at = ".queries[" + std::to_string(i) + "].federationOptions.weight";
            if (!w.is_number()) {
                throw http::error(400, "invalid_multi_search_weight",
                                  "Invalid value type at `" + at +
                                      "`: expected a number, but found " + http::found_value(w));
            }
            if (w.get<double>() < 0) {
                throw http::error(400, "invalid_multi_search_weight",
                                  "Invalid value at `" + at +
                                      "`: the value of `weight` is invalid, expected a positive "
                                      "float (>= 0.0).");
            }
            q.weight = w.get<double>();
        }
        if (options.is_object() && options.contains("remote") && !options["remote"].is_null()) {
            if (!options["remote"].is_string()) {
                throw http::error(400, "invalid_multi_search_remote",
                                  "Invalid value type at `.queries[" + std::to_string(i) +
                                      "].federationOptions.remote`: expected a string, but found " +
                                      http::found_value(options["remote"]));
            }
            q.remote = options["remote"].get<std::string>();
        }
        query.erase("federationOptions");
    }
    q.show_score = query.value("showRankingScore", json(false)) == json(true);
    q.show_details = query.value("showRankingScoreDetails", json(false)) == json(true);
    return query;
}

// What one node holding an index would count for the federation's queries on it: the
// documents any of the queries matched, each once (Meilisearch's federated total is, per index,
// the union of its queries' candidates), and `facetsByIndex` over those documents. Each node of
// a covering set runs the index's queries as a federated search of its own, restricted to the
// shards it answers for; shards do not share documents, so the nodes' counts add up.
struct IndexUnion {
    std::uint64_t total = 0;
    std::vector<json> distributions, stats;  // the nodes' facetsByIndex parts
};

std::atomic<std::uint64_t> union_turn{0};

asio::awaitable<std::variant<IndexUnion, http::Response>> index_union(Context& ctx, std::string uid,
                                                                      std::vector<json> queries,
                                                                      json facets) {
    const auto fleet = ctx.fleet_of(uid);  // one snapshot for the whole request
    const auto plan = covering_set(ctx, *fleet, union_turn++);
    const BuildRequest build = [&uid, &queries, &facets](const Assignment& a) {
        json federation;
        federation["limit"] = 0;
        if (!facets.is_null()) federation["facetsByIndex"] = json::object({{uid, facets}});
        json list = json::array();
        for (const auto& q : queries) {
            json one = q;
            one["indexUid"] = uid;
            if (a.restricted) one["filter"] = with_shards(q.value("filter", json()), a.shards);
            list.push_back(std::move(one));
        }
        json body;
        body["federation"] = std::move(federation);
        body["queries"] = std::move(list);
        return node_request(Method::post, "/multi-search", body.dump());
    };
    auto gathered = co_await ask_with_retry(ctx, fleet, read_deadline(ctx), plan, build);
    if (gathered.refusal) co_return std::move(*gathered.refusal);
    check_unavailable(ctx, uid, gathered.missing);
    IndexUnion out;
    for (auto& a : gathered.answers) {
        if (a.is_null()) continue;
        out.total += a.value("estimatedTotalHits", std::uint64_t{0});
        if (!a.contains("facetsByIndex") || !a["facetsByIndex"].contains(uid)) continue;
        auto& part = a["facetsByIndex"][uid];
        out.distributions.push_back(part.value("distribution", json::object()));
        out.stats.push_back(part.value("stats", json::object()));
    }
    co_return out;
}

// The facets asked of index `uid` that no query searches: Meilisearch answers the error a
// search with those facets would get (or `index_not_found`), noting the index is unused.
asio::awaitable<std::optional<http::Response>> check_unused_facets(Context& ctx, std::string uid,
                                                                   json facets) {
    const std::string lead = "Inside `.federation.facetsByIndex." + uid + "`: ";
    const std::string note = "\n - Note: index `" + uid + "` is not used in queries";
    if (!co_await lookup_index(ctx, uid)) {
        throw http::error(400, "index_not_found", lead + "Index `" + uid + "` not found." + note);
    }
    json body;
    body["facets"] = std::move(facets);
    body["limit"] = 0;
    std::vector<std::pair<std::string, json>> run;
    run.emplace_back(uid, std::move(body));
    auto answers = co_await run_queries(ctx, std::move(run));
    if (!answers.front() || answers.front()->status == 200) co_return std::nullopt;
    auto error = json::parse(answers.front()->body, nullptr, false);
    if (!error.is_object()) co_return std::nullopt;
    error["message"] = lead + error.value("message", std::string()) + note;
    co_return http::respond(answers.front()->status, error);
}

// Pointers to each element, as the facet merge takes its parts.
std::vector<const json*> pointers(const std::vector<json>& parts) {
    std::vector<const json*> out;
    for (const auto& p : parts) out.push_back(&p);
    return out;
}

// 400 unless `federation` is an object of known fields.
void check_federation(const json& federation) {
    if (!federation.is_object()) {
        throw http::bad_request(
            "Invalid value type at `.federation`: expected an object, but found " +
            http::found_value(federation));
    }
    for (const auto& [key, value] : federation.items()) {
        if (std::find(kFederationFields.begin(), kFederationFields.end(), key) ==
            kFederationFields.end()) {
            throw http::bad_request("Unknown field `" + key +
                                    "` inside `.federation`: expected one of " +
                                    http::backquoted_list(kFederationFields));
        }
    }
}

// Each query for its first `depth` hits, scored, with the primary key to recognize a document
// two queries of one index both found.
std::vector<std::pair<std::string, json>> node_queries(std::vector<Query>& queries,
                                                       const std::vector<json>& bodies,
                                                       std::uint64_t depth, bool performance) {
    std::vector<std::pair<std::string, json>> runs;
    for (std::size_t i = 0; i < queries.size(); ++i) {
        if (queries[i].skipped) continue;
        json b = bodies[i];
        if (performance) b["showPerformanceDetails"] = true;
        b["offset"] = 0;
        b["limit"] = depth;
        b["showRankingScore"] = true;
        b["showRankingScoreDetails"] = true;
        auto& q = queries[i];
        if (q.primary_key && b.contains("attributesToRetrieve") &&
            b["attributesToRetrieve"].is_array()) {
            const auto& names = b["attributesToRetrieve"];
            if (std::find(names.begin(), names.end(), "*") == names.end() &&
                std::find(names.begin(), names.end(), *q.primary_key) == names.end()) {
                b["attributesToRetrieve"].push_back(*q.primary_key);
                q.strip_key = true;
            }
        }
        runs.emplace_back(q.uid, std::move(b));
    }
    return runs;
}

// The facets of the indexes `facet_queries` names, per index or merged as `federation` says.
asio::awaitable<void> add_facets(Context& ctx, const json& federation,
                                 const std::vector<std::string>& facet_queries,
                                 std::map<std::string, IndexUnion>& unions, json& out) {
    const auto fleet = ctx.fleet();
    std::vector<json> distributions, stats;
    json facets_by_index = json::object();
    for (const auto& uid : facet_queries) {
        const auto& counted = unions[uid];
        const json faceting = co_await faceting_settings(ctx, *fleet, uid);
        json one;
        one["distribution"] = merge::merge_facets(pointers(counted.distributions), faceting,
                                                  merge::alpha_order_for(counted.total));
        one["stats"] = merge::merge_facet_stats(pointers(counted.stats));
        distributions.push_back(one["distribution"]);
        stats.push_back(one["stats"]);
        facets_by_index[uid] = std::move(one);
    }
    const json merge = federation.value("mergeFacets", json());
    if (merge.is_object()) {
        // counts summed across the indexes; Meilisearch orders the merged values by their
        // text, numbers among them (or by count as the first index's settings say)
        json faceting = co_await faceting_settings(ctx, *fleet, facet_queries.front());
        faceting["maxValuesPerFacet"] =
            merge.value("maxValuesPerFacet", std::numeric_limits<std::uint64_t>::max());
        out["facetDistribution"] =
            merge::merge_facets(pointers(distributions), faceting, merge::AlphaOrder::keys_by_text);
        out["facetStats"] = merge::merge_facet_stats(pointers(stats));
    } else {
        out["facetsByIndex"] = std::move(facets_by_index);
    }
}

// Each query's answer parsed into `results` (the slowest node's time in `processing`); the
// first query that failed, as multi-search reports it.
std::optional<http::Response> query_results(const std::vector<Query>& queries,
                                            const std::vector<upstream::UpstreamResult>& answers,
                                            std::vector<json>& results, std::uint64_t& processing) {
    std::size_t next = 0;  // the answer of the next query that ran
    for (std::size_t i = 0; i < queries.size(); ++i) {
        if (queries[i].skipped) {
            results.push_back(json{{"hits", json::array()}});
            continue;
        }
        const auto& answer = answers[next++];
        if (!answer || answer->status != 200) {
            const upstream::UpstreamResponse failed{503, {}, R"({"code":"miroir_no_quorum"})"};
            return query_error(i, answer ? *answer : failed);
        }
        results.push_back(json::parse(answer->body, nullptr, false));
        processing =
            std::max(processing, results.back().value("processingTimeMs", std::uint64_t{0}));
    }
    return std::nullopt;
}

// Per index its queries search (each index once, the queries run here), the documents they
// matched and its facets; a node's refusal when there is one.
asio::awaitable<std::optional<http::Response>> count_unions(
    Context& ctx, const std::vector<Query>& queries, const std::vector<json>& bodies,
    const json& by_index, std::map<std::string, IndexUnion>& unions) {
    for (const auto& q : queries) {
        if (q.skipped || unions.contains(q.uid)) continue;
        std::vector<json> own;
        for (std::size_t i = 0; i < queries.size(); ++i) {
            if (queries[i].uid == q.uid && !queries[i].skipped) own.push_back(bodies[i]);
        }
        const auto patterns = by_index.is_object() ? by_index.value(q.uid, json()) : json();
        auto counted = co_await index_union(ctx, q.uid, std::move(own), patterns);
        if (auto* refused = std::get_if<http::Response>(&counted)) co_return std::move(*refused);
        unions[q.uid] = std::move(std::get<IndexUnion>(counted));
    }
    co_return std::nullopt;
}

// Queries naming a remote (`federationOptions.remote`, the `network` feature on): the instance's
// own name (`self`, left in `self_name`) runs here; another registered remote's queries are not
// run, and the answer's `remoteErrors` says so for each remote (Miroir does not federate over
// remotes); an unregistered one is refused. Nothing when no query names a remote.
asio::awaitable<std::optional<json>> sort_remotes(Context& ctx, std::vector<Query>& queries,
                                                  json& self_name) {
    const bool named = std::any_of(queries.begin(), queries.end(),
                                   [](const Query& q) { return q.remote.has_value(); });
    if (!named) co_return std::nullopt;
    co_await require_network_feature(ctx, "Performing a remote federated search");
    const auto network = co_await network_record(ctx);
    self_name = network.value("self", json());
    json errors = json::object();
    for (auto& q : queries) {
        if (!q.remote || (self_name.is_string() && *q.remote == self_name)) continue;
        const auto& remotes = network["remotes"];
        if (!remotes.is_object() || !remotes.contains(*q.remote)) {
            throw http::error(400, "invalid_multi_search_remote",
                              "Invalid `.federation_options.remote`: remote `" + *q.remote +
                                  "` is not registered");
        }
        q.skipped = true;
        const http::ApiError unsupported(501, "miroir_remote_federation_unsupported",
                                         http::ErrorType::system,
                                         "Miroir does not federate searches over remotes: the "
                                         "queries for remote `" +
                                             *q.remote + "` were not run.");
        errors[*q.remote] = json::parse(unsupported.body());
    }
    co_return errors;
}

// The federation's window: offset and limit, or page and hitsPerPage (checked once).
struct Window {
    bool page_mode = false;
    std::uint64_t offset = 0, limit = 20, page = 1, per_page = 20;

    explicit Window(const json& federation)
        : page_mode(federation.contains("page") || federation.contains("hitsPerPage")),
          offset(window_param(federation, "offset", 0)),
          limit(window_param(federation, "limit", 20)),
          page(window_param(federation, "page", 1)),
          per_page(window_param(federation, "hitsPerPage", 20)) {}
    std::uint64_t from() const { return page_mode ? (page ? (page - 1) * per_page : 0) : offset; }
    std::uint64_t count() const { return page_mode ? (page ? per_page : 0) : limit; }
};

// The totals of `total` matching documents, in the window's form.
void add_totals(const Window& w, std::uint64_t total, json& out) {
    if (w.page_mode) {
        out["hitsPerPage"] = w.per_page;
        out["page"] = w.page;
        out["totalPages"] = w.per_page ? (total + w.per_page - 1) / w.per_page : std::uint64_t{0};
        out["totalHits"] = total;
    } else {
        out["limit"] = w.limit;
        out["offset"] = w.offset;
        out["estimatedTotalHits"] = total;
    }
}

// `performanceDetails` of a federated search: Miroir's steps, then the slowest query's details
// (each query a merged search with details of its own).
json federated_performance(const std::vector<json>& results,
                           std::chrono::steady_clock::time_point started,
                           std::chrono::steady_clock::time_point answered) {
    std::vector<std::string> labels;
    for (std::size_t i = 0; i < results.size(); ++i) labels.push_back("query " + std::to_string(i));
    const std::vector<merge::TimedStep> steps{
        {"queries", answered - started},
        {"totals, facets and merge", std::chrono::steady_clock::now() - answered}};
    return merge::performance_details(steps, results, labels);
}

}  // namespace

asio::awaitable<http::Response> federated_search(Context& ctx, const json& body) {
    const json& federation = body["federation"];
    check_federation(federation);
    const Window window(federation);
    const std::uint64_t from = window.from(), count = window.count();

    // every query checked before any node is asked
    const auto& raw = body["queries"];
    std::vector<Query> queries(raw.size());
    std::vector<json> bodies;
    for (std::size_t i = 0; i < raw.size(); ++i)
        bodies.push_back(checked_query(raw[i], i, queries[i]));
    json self_name;
    auto remote_errors = co_await sort_remotes(ctx, queries, self_name);
    const json by_index = federation.value("facetsByIndex", json::object());
    std::vector<std::string> facet_queries;  // the indexes whose facets the answer gives
    std::vector<std::string> unused;         // facets asked of indexes no query searches
    if (by_index.is_object()) {
        for (const auto& [uid, patterns] : by_index.items()) {
            if (patterns.is_null()) continue;
            const bool searched = std::any_of(queries.begin(), queries.end(),
                                              [&](const Query& x) { return x.uid == uid; });
            (searched ? facet_queries : unused).push_back(uid);
        }
    }

    // each query for the first offset+limit hits, scored, with the primary key to recognize a
    // document two queries of one index both found
    std::map<std::string, std::optional<std::string>> keys;
    for (auto& q : queries) {
        if (!keys.contains(q.uid)) {
            const auto record = co_await lookup_index(ctx, q.uid);
            keys[q.uid] = record ? record->primary_key : std::nullopt;
        }
        q.primary_key = keys[q.uid];
    }
    const auto started = std::chrono::steady_clock::now();
    const auto asked = federation.find("showPerformanceDetails");
    const bool performance = asked != federation.end() && *asked == true;
    auto runs = node_queries(queries, bodies, from + count, performance);
    auto answers = co_await run_queries(ctx, runs);
    const auto answered = std::chrono::steady_clock::now();
    std::vector<json> results;
    std::uint64_t processing = 0;
    if (auto failed = query_results(queries, answers, results, processing)) {
        co_return std::move(*failed);
    }

    // Meilisearch checks the facets of an index no query searches, and leaves them out
    for (const auto& uid : unused) {
        if (auto refused = co_await check_unused_facets(ctx, uid, by_index[uid])) {
            co_return std::move(*refused);
        }
    }

    // per index, the documents its queries matched (the total) and its facets
    std::map<std::string, IndexUnion> unions;
    if (auto refused = co_await count_unions(ctx, queries, bodies, by_index, unions)) {
        co_return std::move(*refused);
    }
    std::uint64_t total = 0;
    for (const auto& [uid, counted] : unions) total += counted.total;

    json hits =
        merge::federated_hits(queries, results, from, count, remote_errors ? &self_name : nullptr);

    json out;
    out["hits"] = std::move(hits);
    out["processingTimeMs"] = processing;
    add_totals(window, total, out);
    if (!facet_queries.empty()) {
        co_await add_facets(ctx, federation, facet_queries, unions, out);
    }
    if (remote_errors) out["remoteErrors"] = std::move(*remote_errors);
    out["requestUid"] = util::random_uuid();
    if (performance) out["performanceDetails"] = federated_performance(results, started, answered);
    co_return http::respond(200, out);
}

}  // namespace miroir::meili
