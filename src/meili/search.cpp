// Search through Miroir: one replica group, one replica of each shard (the covering set),
// each node asked once for the first offset+limit hits with their ranking details, the hits
// merged in the order one node holding everything would give, then the client's window.
#include "search.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/merge/facets.hpp>
#include <miroir/merge/hybrid.hpp>
#include <miroir/merge/order.hpp>
#include <miroir/merge/scrub.hpp>
#include <miroir/merge/search.hpp>
#include <miroir/merge/typo.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/coalesce.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/search.hpp>
#include <miroir/scatter/settings_sync.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/util/uuid.hpp>

namespace miroir::meili {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

std::atomic<std::uint64_t> rotation{0};

const char* const kWindowParams[] = {"offset", "limit", "page", "hitsPerPage"};
const char* const kScoreFlags[] = {"showRankingScore", "showRankingScoreDetails"};

}  // namespace

std::uint64_t uint_or(const json& body, const char* key, std::uint64_t fallback) {
    const auto it = body.find(key);
    return it != body.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : fallback;
}

bool flag(const json& body, const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_boolean() && it->get<bool>();
}

void retrieve_place(json& body) {
    const auto it = body.find("attributesToRetrieve");
    if (it == body.end() || !it->is_array()) return;
    std::vector<std::string> names;
    for (const auto& n : *it) {
        if (!n.is_string()) return;  // the nodes refuse it
        names.push_back(n.get<std::string>());
    }
    routing::add_place(names);
    *it = names;
}

// Whether the score flags of a GET search are booleans (else they go to the nodes as they are).
bool flags_valid(const std::map<std::string, std::string>& by_name) {
    return std::all_of(std::begin(kScoreFlags), std::end(kScoreFlags), [&by_name](const char* f) {
        const auto it = by_name.find(f);
        if (it == by_name.end()) return true;
        std::string v = it->second;
        std::transform(v.begin(), v.end(), v.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return v == "true" || v == "false";
    });
}

SearchWindow window_of(Context& ctx, const json& body) {
    SearchWindow w;
    w.deadline = read_deadline(ctx);
    w.page_mode = body.contains("page") || body.contains("hitsPerPage");
    w.offset = uint_or(body, "offset", 0);
    w.limit = uint_or(body, "limit", 20);
    w.page = uint_or(body, "page", 1);
    w.hits_per_page = uint_or(body, "hitsPerPage", 20);
    w.want_score = flag(body, "showRankingScore");
    w.want_details = flag(body, "showRankingScoreDetails");
    w.performance = flag(body, "showPerformanceDetails");
    if (body.contains("q") && body["q"].is_string()) w.q = body["q"].get<std::string>();
    w.filter = body.value("filter", json());

    if (body.contains("hybrid") && body["hybrid"].is_object()) {
        const auto ratio = body["hybrid"].value("semanticRatio", json(0.5));
        if (ratio.is_number() && ratio.get<double>() > 0) w.semantic_ratio = ratio.get<double>();
    }
    if (body.contains("distinct") && body["distinct"].is_string()) {
        w.distinct = body["distinct"].get<std::string>();
    }
    if (body.contains("facets") && body["facets"].is_array()) {
        for (const auto& f : body["facets"]) {
            if (f.is_string()) w.facets.push_back(f.get<std::string>());
        }
    }
    if (body.contains("attributesToRetrieve") && body["attributesToRetrieve"].is_array()) {
        std::vector<std::string> names;
        for (const auto& a : body["attributesToRetrieve"]) {
            if (a.is_string()) names.push_back(a.get<std::string>());
        }
        if (std::find(names.begin(), names.end(), "*") == names.end()) w.retrieve = names;
    }
    return w;
}

NodeSearch node_search_of(const std::string& uid, const json& body, bool page_mode) {
    // each node: its first hits, scored, with the details that order them; a window parameter
    // of the wrong type is left as it is, for the nodes to reject
    const bool valid = std::all_of(
        std::begin(kWindowParams), std::end(kWindowParams),
        [&body](const char* p) { return !body.contains(p) || body[p].is_number_unsigned(); });
    const json filter = body.value("filter", json());
    // a score flag of the wrong type is left as it is too, for the nodes to reject
    const bool flags =
        std::all_of(std::begin(kScoreFlags), std::end(kScoreFlags),
                    [&body](const char* f) { return !body.contains(f) || body[f].is_boolean(); });
    return [&uid, &body, page_mode, valid, flags, filter](const Assignment& a, std::uint64_t depth,
                                                          const SearchExtras& extra) {
        json b = body;
        if (!valid || extra.client_window) {
            // nothing to rewrite
        } else if (page_mode) {
            b["page"] = 1;
            b["hitsPerPage"] = depth;
        } else {
            b["offset"] = 0;
            b["limit"] = depth;
        }
        if (extra.scores && flags) {
            b["showRankingScore"] = true;
            b["showRankingScoreDetails"] = true;
        }
        if (extra.retrieve) b["attributesToRetrieve"].push_back(*extra.retrieve);
        retrieve_place(b);
        if (extra.side == SearchExtras::Side::keyword) {
            b.erase("hybrid");
            b.erase("vector");
        } else if (extra.side == SearchExtras::Side::semantic) {
            b["hybrid"]["semanticRatio"] = 1.0;
        }
        if (extra.facet) {
            if (!b.contains("facets") || !b["facets"].is_array()) b["facets"] = json::array();
            b["facets"].push_back(*extra.facet);
        }
        if (a.restricted) b["filter"] = with_shards(filter, a.shards);
        return node_request(Method::post, index_path(uid) + "/search", b.dump());
    };
}

namespace {

// The client's `attributesToSearchOn` and `locales`, which a node's word counts depend on.
json counting_scope(const json& body) {
    json scope = json::object();
    for (const char* key : {"attributesToSearchOn", "locales"}) {
        if (body.contains(key)) scope[key] = body[key];
    }
    return scope;
}

// A search given as a JSON object (POST search, one query of a multi-search).
asio::awaitable<http::Response> search_body(Context& ctx, const std::string& uid, const json& body,
                                            std::vector<std::size_t> avoid = {}) {
    const auto strategy = body.find("matchingStrategy");
    if (strategy != body.end() && *strategy == "frequency" && body.value("q", json()).is_string()) {
        const auto q = body["q"].get<std::string>();
        if (co_await frequency_drops_as_last(ctx, uid, q, counting_scope(body))) {
            json as_last = body;
            as_last["matchingStrategy"] = "last";
            co_return co_await search_body(ctx, uid, as_last, std::move(avoid));
        }
    }
    auto w = window_of(ctx, body);
    w.avoid = std::move(avoid);
    // a named local, not a temporary inside the co_await expression (GCC 12)
    const auto node_search = node_search_of(uid, body, w.page_mode);
    co_return co_await search(ctx, uid, w, node_search);
}

asio::awaitable<http::Response> search_post(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    auto body = http::json_body(r);
    if (!body.is_object()) {
        throw http::error(
            400, "bad_request",
            "Invalid value type: expected an object, but found " + http::found_value(body));
    }
    apply_read_rules(ctx, r, uid, body);
    if (auto merged = co_await search_alias(ctx, uid, body)) co_return std::move(*merged);
    auto avoid = below_settings_floor(ctx, uid, r);
    // identical searches in flight share one scatter: the same index, query (the tenant's
    // filter in it) and settings-version floor
    const Coalescer::Work work = [&ctx, &uid, &body, &avoid] {
        return search_body(ctx, uid, body, avoid);
    };
    auto response = co_await coalesced(ctx, search_key("POST", uid, body.dump(), avoid), work);
    add_settings_headers(ctx, uid, response);
    co_return response;
}

// One query of a multi-search, as an upstream result so that gather() runs them together.
asio::awaitable<upstream::UpstreamResult> one_query(Context& ctx, std::string uid, json query,
                                                    std::vector<std::size_t> avoid = {}) {
    auto response = co_await search_body(ctx, uid, query, std::move(avoid));
    co_return upstream::UpstreamResponse{response.status, std::move(response.headers),
                                         std::move(response.body)};
}

// POST /multi-search without federation: each query scattered and merged on its own, the
// results in the order of the queries; the first failing query fails the request, its
// message prefixed with its position, as Meilisearch reports it.
asio::awaitable<http::Response> multi_search(Context& ctx, http::Request& r) {
    auto body = http::json_body(r);
    http::check_multi_search(body);
    for (std::size_t i = 0; i < body["queries"].size(); ++i) {
        auto& query = body["queries"][i];
        const auto uid = query.is_object() ? query.value("indexUid", json()) : json();
        if (!uid.is_string()) continue;
        if (!r.index_allowed(uid.get<std::string>())) {
            throw http::ApiError(
                403, "invalid_api_key", http::ErrorType::auth,
                "Inside `.queries[" + std::to_string(i) + "]`: The provided API key is invalid.");
        }
        apply_read_rules(ctx, r, uid.get<std::string>(), query);
    }
    if (body.contains("federation") && !body["federation"].is_null()) {
        co_return co_await federated_search(ctx, body);
    }
    const auto& queries = body["queries"];
    std::vector<std::pair<std::string, json>> runs;
    for (std::size_t i = 0; i < queries.size(); ++i) {
        auto uid = query_index_uid(queries[i], i);
        json query = queries[i];
        if (query.contains("federationOptions")) {
            throw http::error(400, "invalid_multi_search_federation_options",
                              "Inside `.queries[" + std::to_string(i) +
                                  "]`: Using `federationOptions` is not allowed in a "
                                  "non-federated search.\n - Hint: remove `federationOptions` "
                                  "from the query or add `federation` to the request.");
        }
        query.erase("indexUid");
        runs.emplace_back(std::move(uid), std::move(query));
    }
    auto answers = co_await run_queries(ctx, runs, &r);
    json results = json::array();
    for (std::size_t i = 0; i < answers.size(); ++i) {
        auto& a = *answers[i];
        if (a.status != 200) co_return query_error(i, a);
        const auto parsed = json::parse(a.body, nullptr, false);
        json one;
        one["indexUid"] = runs[i].first;
        for (auto it = parsed.begin(); it != parsed.end(); ++it) one[it.key()] = it.value();
        results.push_back(std::move(one));
    }
    json out;
    out["results"] = std::move(results);
    co_return http::respond(200, out);
}

// What the merge needs of a GET search's query string; `valid` false when a window parameter
// is no number.
SearchWindow query_window(std::map<std::string, std::string>& by_name, bool& valid) {
    auto number = [&](const char* name, std::uint64_t fallback) -> std::uint64_t {
        const auto it = by_name.find(name);
        if (it == by_name.end()) return fallback;
        const auto& v = it->second;
        const bool ok = !v.empty() && v.size() < 20 && std::all_of(v.begin(), v.end(), [](char c) {
            return c >= '0' && c <= '9';
        });
        valid = valid && ok;
        return ok ? std::stoull(v) : fallback;
    };
    auto boolean = [&](const char* name) {
        const auto it = by_name.find(name);
        return it != by_name.end() && (it->second == "true" || it->second == "True");
    };
    SearchWindow w;
    w.page_mode = by_name.contains("page") || by_name.contains("hitsPerPage");
    w.offset = number("offset", 0);
    w.limit = number("limit", 20);
    w.page = number("page", 1);
    w.hits_per_page = number("hitsPerPage", 20);
    w.want_score = boolean("showRankingScore");
    w.want_details = boolean("showRankingScoreDetails");
    w.performance = boolean("showPerformanceDetails");
    if (by_name.contains("q")) w.q = by_name["q"];

    if (by_name.contains("distinct")) w.distinct = by_name["distinct"];
    if (by_name.contains("hybridEmbedder")) {
        const auto it = by_name.find("hybridSemanticRatio");
        const double ratio = it == by_name.end() ? 0.5 : std::strtod(it->second.c_str(), nullptr);
        if (ratio > 0) w.semantic_ratio = ratio;
    }
    if (by_name.contains("facets")) w.facets = http::split_csv(by_name["facets"]);
    if (by_name.contains("attributesToRetrieve")) {
        auto names = http::split_csv(by_name["attributesToRetrieve"]);
        if (std::find(names.begin(), names.end(), "*") == names.end()) w.retrieve = names;
    }

    return w;
}

// GET search: the query string goes to the nodes as a query string (so that a bad parameter
// gets the node's own message), with the window, the scores and the shard filter rewritten.
asio::awaitable<http::Response> search_get(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    std::vector<std::pair<std::string, std::string>> params;
    std::map<std::string, std::string> by_name;
    for (const auto& part : http::split_query(r.query)) {
        params.push_back(part);
        by_name[part.first] = part.second;
    }
    apply_tenant_query(r, uid, params, by_name);
    hide_expired_query(ctx, uid, params, by_name);
    bool valid = true;  // a window parameter that is no number is left for the nodes to reject
    SearchWindow w = query_window(by_name, valid);
    w.avoid = below_settings_floor(ctx, uid, r);
    w.deadline = read_deadline(ctx);

    const std::optional<std::string> filter =
        by_name.contains("filter") ? std::optional(by_name["filter"]) : std::nullopt;
    if (filter) {  // as a node reads it: JSON first, else plain filter text
        w.filter = json::parse(*filter, nullptr, false);
        if (!w.filter.is_array() && !w.filter.is_string()) w.filter = *filter;
    }
    co_await frequency_params_as_last(ctx, uid, by_name, params);
    const NodeSearch node_search = [&uid, &params, &by_name, &w, valid, filter](
                                       const Assignment& a, std::uint64_t depth,
                                       const SearchExtras& extra) {
        std::map<std::string, std::string> set;
        if (extra.scores && flags_valid(by_name)) {
            set["showRankingScore"] = "true";
            set["showRankingScoreDetails"] = "true";
        }
        if (!valid || extra.client_window) {
            // nothing to rewrite
        } else if (w.page_mode) {
            set["page"] = "1";
            set["hitsPerPage"] = std::to_string(depth);
        } else {
            set["offset"] = "0";
            set["limit"] = std::to_string(depth);
        }
        if (const auto it = by_name.find("attributesToRetrieve"); it != by_name.end()) {
            auto names = http::split_csv(it->second);
            if (extra.retrieve) names.push_back(*extra.retrieve);
            routing::add_place(names);
            set["attributesToRetrieve"] = http::join_csv(names);
        }
        if (extra.facet) {
            const auto it = by_name.find("facets");
            set["facets"] =
                (it == by_name.end() || it->second.empty() ? "" : it->second + ",") + *extra.facet;
        }
        if (a.restricted) set["filter"] = with_shards_param(filter, a.shards);
        const bool keyword_side = extra.side == SearchExtras::Side::keyword;
        if (extra.side == SearchExtras::Side::semantic) set["hybridSemanticRatio"] = "1";
        std::vector<std::pair<std::string, std::string>> query;
        for (const auto& [k, v] : params) {
            const bool semantic_param =
                k == "hybridEmbedder" || k == "hybridSemanticRatio" || k == "vector";
            if (!set.contains(k) && !(keyword_side && semantic_param)) query.emplace_back(k, v);
        }
        for (const auto& [k, v] : set) query.emplace_back(k, v);
        const std::string target = index_path(uid) + "/search?" + http::join_query(query);
        return node_request(Method::get, target);
    };
    const Coalescer::Work work = [&ctx, &uid, &w, &node_search] {
        return search(ctx, uid, w, node_search);
    };
    auto response =
        co_await coalesced(ctx, search_key("GET", uid, http::join_query(params), w.avoid), work);
    add_settings_headers(ctx, uid, response);
    co_return response;
}

// POST facet-search: every node's facet hits for the shards it answers for, counts summed per
// normalized value, ordered and truncated by the index's faceting settings.
asio::awaitable<http::Response> facet_search(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    auto body = http::json_body(r);
    apply_read_rules(ctx, r, uid, body);
    const auto fleet = ctx.fleet_of(uid);  // one snapshot for the whole request
    const auto plan = covering_set(ctx, *fleet, rotation++);
    const bool object = body.is_object();
    const NodeSearch node_search = [&uid, &body, object](const Assignment& a, std::uint64_t,
                                                         const SearchExtras&) {
        json b = body;
        if (object && a.restricted)
            b["filter"] = with_shards(body.value("filter", json()), a.shards);
        return node_request(Method::post, index_path(uid) + "/facet-search", b.dump());
    };
    auto gathered = co_await ask_plan(ctx, fleet, read_deadline(ctx), plan, node_search);
    if (gathered.refusal) co_return std::move(*gathered.refusal);
    check_unavailable(ctx, uid, gathered.missing);

    const auto field = body.value("facetName", json()).is_string()
                           ? body["facetName"].get<std::string>()
                           : std::string();
    const auto faceting = co_await faceting_settings(ctx, *fleet, uid);
    const auto out = merge::facet_search_answer(gathered.answers, faceting, field);
    co_return respond_partial(out, std::move(gathered.missing));
}

}  // namespace

std::string query_index_uid(const json& query, std::size_t position) {
    const std::string prefix = "Inside `.queries[" + std::to_string(position) + "]`: ";
    if (!query.is_object() || !query.contains("indexUid") || !query["indexUid"].is_string()) {
        throw http::error(400, "missing_index_uid",
                          http::query_message(position, "Missing field `indexUid`"));
    }
    auto uid = query["indexUid"].get<std::string>();
    try {
        check_index_uid(uid);
    } catch (const http::ApiError& e) {
        throw http::ApiError(e.status(), e.code(), e.type(), prefix + e.what());
    }
    return uid;
}

asio::awaitable<std::vector<upstream::UpstreamResult>> run_queries(
    Context& ctx, std::vector<std::pair<std::string, json>> queries, const http::Request* request) {
    std::vector<asio::awaitable<upstream::UpstreamResult>> runs;
    for (auto& [uid, query] : queries) {
        auto avoid =
            request ? below_settings_floor(ctx, uid, *request) : std::vector<std::size_t>{};
        runs.push_back(one_query(ctx, uid, std::move(query), std::move(avoid)));
    }
    co_return co_await upstream::gather(std::move(runs));
}

http::Response query_error(std::size_t position, const upstream::UpstreamResponse& answer) {
    const auto parsed = json::parse(answer.body, nullptr, false);
    const auto code = parsed.value("code", std::string("internal"));
    json error;
    error["message"] = http::query_message(position, parsed.value("message", std::string()));
    error["code"] = code;
    error["type"] = parsed.value("type", std::string("internal"));
    error["link"] = "https://docs.meilisearch.com/errors#" + code;
    return http::respond(code == "index_not_found" ? 400 : answer.status, error);
}

void add_search_routes(http::Router& router, Context& ctx) {
    router.add(Method::post, "/indexes/{uid}/search", "search",
               [&ctx](http::Request& r) { return search_post(ctx, r); });
    router.add(Method::get, "/indexes/{uid}/search", "search",
               [&ctx](http::Request& r) { return search_get(ctx, r); });
    router.add(Method::post, "/indexes/{uid}/facet-search", "search",
               [&ctx](http::Request& r) { return facet_search(ctx, r); });
    router.add(Method::post, "/multi-search", "search",
               [&ctx](http::Request& r) { return multi_search(ctx, r); });
    add_similar_routes(router, ctx);
}

}  // namespace miroir::meili
