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

#include <miroir/api/context.hpp>
#include <miroir/api/fleet.hpp>
#include <miroir/api/routes.hpp>
#include <miroir/config/config.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/ingest/splitter.hpp>
#include <miroir/merge/facets.hpp>
#include <miroir/merge/hybrid.hpp>
#include <miroir/merge/order.hpp>
#include <miroir/merge/scrub.hpp>
#include <miroir/merge/search.hpp>
#include <miroir/merge/typo.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/util/uuid.hpp>

#include "fanout.hpp"
#include "reads.hpp"
#include "settings_sync.hpp"

namespace miroir::api {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

std::atomic<std::uint64_t> rotation{0};

std::uint64_t uint_or(const json& body, const char* key, std::uint64_t fallback) {
    const auto it = body.find(key);
    return it != body.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : fallback;
}

bool flag(const json& body, const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_boolean() && it->get<bool>();
}

// What the merge needs of an index's settings.
struct MergeSettings {
    json faceting = json::object();
    std::optional<std::string> distinct;  // the distinctAttribute setting
    json filterable = json::array();
    std::string primary_key;  // full ties are ordered by it

    // Whether the nodes count the values of `field` in facet distributions.
    bool facetable(const std::string& field) const {
        for (const auto& rule : filterable) {
            if (rule.is_string() && (rule == field || rule == "*")) return true;
            if (!rule.is_object()) continue;
            for (const auto& p : rule.value("attributePatterns", json::array())) {
                if (p == field || p == "*") return true;
            }
        }
        return false;
    }
};

// Kept for a second per index, and forgotten when settings change through this Miroir: a
// search does not pay a settings read, and another Miroir's change shows within a second.
constexpr auto kSettingsTtl = std::chrono::seconds(1);
std::mutex settings_mutex;
std::map<std::string, std::pair<std::chrono::steady_clock::time_point, MergeSettings>>
    settings_cache;

asio::awaitable<MergeSettings> merge_settings(Context& ctx, const std::string& uid,
                                              const std::vector<Assignment>& plan) {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(settings_mutex);
        const auto it = settings_cache.find(uid);
        if (it != settings_cache.end() && now - it->second.first < kSettingsTtl) {
            co_return it->second.second;
        }
    }
    MergeSettings out;
    for (const auto& a : plan) {
        auto r = co_await ctx.nodes[a.node]->send(
            node_request(Method::get, index_path(uid) + "/settings"),
            std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms));
        if (!r || r->status >= 500) continue;
        if (r->status != 200) co_return out;  // no such index: the search says so
        const auto settings = json::parse(r->body, nullptr, false);
        if (!settings.is_object()) continue;
        out.faceting = settings.value("faceting", json::object());
        out.filterable = settings.value("filterableAttributes", json::array());
        const auto d = settings.value("distinctAttribute", json());
        if (d.is_string()) out.distinct = d.get<std::string>();
        if (const auto record = co_await lookup_index(ctx, uid); record && record->primary_key) {
            out.primary_key = *record->primary_key;
        }
        std::lock_guard lock(settings_mutex);
        settings_cache[uid] = {now, out};
        break;
    }
    co_return out;
}

const char* const kWindowParams[] = {"offset", "limit", "page", "hitsPerPage"};

// What the merge needs to know of the client's query.
struct Window {
    bool page_mode = false;
    std::uint64_t offset = 0, limit = 20, page = 1, hits_per_page = 20;
    bool want_score = false, want_details = false;
    std::string q;
    std::optional<std::string> distinct;   // the `distinct` parameter
    std::vector<std::string> facets;       // the `facets` parameter
    std::optional<double> semantic_ratio;  // a hybrid or vector search
    // the attributes the client retrieves, when it names them without "*"
    std::optional<std::vector<std::string>> retrieve;
    // nodes below the request's settings-version floor
    std::vector<std::size_t> avoid;
};

// What a search asks of the nodes beyond the client's query: an attribute to retrieve (the
// distinct attribute), a facet to count (the distinct attribute's values, for the total).
struct Extras {
    std::optional<std::string> retrieve;
    std::optional<std::string> facet;
    // a hybrid search's keyword side (without `hybrid` and `vector`) or semantic side
    // (`semanticRatio` 1), each merged across nodes before the two are
    enum class Side { both, keyword, semantic } side = Side::both;
    // scores and ranking details, which only a merge of several nodes' hits needs
    bool scores = true;
    // the client's own window (offset, limit, page) rather than the first `depth` hits
    bool client_window = false;
};

// Builds one node's request for the shards it answers for, asking it for its first `depth`
// hits, and for what the merge needs beyond the client's query.
using NodeSearch = std::function<upstream::UpstreamRequest(const Assignment&, std::uint64_t depth,
                                                           const Extras& extra)>;

asio::awaitable<http::Response> scatter_and_merge(Context& ctx, const std::string& uid,
                                                  const Window& w, const NodeSearch& node_search);

// Every node of the plan asked at once, each with its own request (and other replicas for the
// shards of a node that does not answer).
asio::awaitable<Gathered> ask_plan(Context& ctx, const std::vector<Assignment>& plan,
                                   const NodeSearch& node_search, std::uint64_t depth = 0,
                                   Extras extra = {}, std::vector<std::size_t> avoid = {},
                                   Answers keep = Answers::parsed) {
    // `extra` and `avoid` by value: a coroutine must not keep references to the caller's
    // temporaries (the defaults are ones)
    const BuildRequest build = [&node_search, depth, &extra](const Assignment& a) {
        return node_search(a, depth, extra);
    };
    auto gathered = co_await ask_with_retry(ctx, plan, build, true, std::move(avoid), keep);
    // A node writes the filter it refused back into its message, the shard restriction
    // included: the same query without it gets the message one node holding everything gives.
    if (gathered.refusal && !plan.empty() &&
        gathered.refusal->body.find(ingest::kShardField) != std::string::npos) {
        Assignment whole = plan.front();
        whole.restricted = false;
        const auto again = co_await ctx.nodes[whole.node]->send(
            build(whole), std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms));
        if (again && again->status >= 400 && again->status < 500) {
            gathered.refusal = relay_error(again->status, again->body);
        }
    }
    co_return gathered;
}

// A node holding every shard ranks, counts, pages, dedupes and counts facets as one node does:
// asked with the client's own window, its answer is the answer, Miroir's fields cut out of its
// bytes (no parse, no merge). Nothing when other nodes had to step in (a retry, a hedge split
// across replicas) or the answer is not a JSON object: the merge then asks again.
asio::awaitable<std::optional<http::Response>> whole_answer(Context& ctx,
                                                            const std::vector<Assignment>& plan,
                                                            const NodeSearch& node_search,
                                                            std::vector<std::size_t> avoid) {
    Extras extra;
    extra.scores = false;
    extra.client_window = true;
    auto gathered =
        co_await ask_plan(ctx, plan, node_search, 0, extra, std::move(avoid), Answers::raw);
    if (gathered.refusal) co_return std::move(gathered.refusal);
    // the one answer from a node answering for every shard (the first node's, or a retry's)
    std::size_t whole = gathered.asked.size();
    for (std::size_t i = 0; i < gathered.asked.size(); ++i) {
        if (gathered.raw[i].empty()) continue;
        const auto& a = gathered.asked[i];
        if (whole != gathered.asked.size() || a.restricted ||
            a.shards.size() != ctx.fleet()->shards()) {
            co_return std::nullopt;  // parts from several nodes: they need the merge
        }
        whole = i;
    }
    if (whole == gathered.asked.size()) co_return std::nullopt;
    auto body = merge::scrub_search_answer(std::move(gathered.raw[whole]), ingest::kReservedPrefix);
    if (!body) co_return std::nullopt;
    co_return http::Response::json(200, std::move(*body));
}

// `filter` with the filter of the request's tenant token for `uid` ANDed to it.
json with_tenant_filter(const http::Request& r, const std::string& uid, const json& filter) {
    const auto* rule = r.tenant_rule(uid);
    if (!rule || rule->filter.empty()) return filter;
    return and_filters(filter, json::parse(rule->filter, nullptr, false));
}

// A search body with the tenant token's filter for `uid`.
void apply_tenant_rules(const http::Request& r, const std::string& uid, json& body) {
    if (!r.tenant_rules || !body.is_object()) return;
    auto fused = with_tenant_filter(r, uid, body.value("filter", json()));
    if (!fused.is_null()) body["filter"] = std::move(fused);
}

// A search given as a JSON object (POST search, one query of a multi-search).
asio::awaitable<http::Response> search_body(Context& ctx, const std::string& uid, const json& body,
                                            std::vector<std::size_t> avoid = {}) {
    Window w;
    w.avoid = std::move(avoid);
    w.page_mode = body.contains("page") || body.contains("hitsPerPage");
    w.offset = uint_or(body, "offset", 0);
    w.limit = uint_or(body, "limit", 20);
    w.page = uint_or(body, "page", 1);
    w.hits_per_page = uint_or(body, "hitsPerPage", 20);
    w.want_score = flag(body, "showRankingScore");
    w.want_details = flag(body, "showRankingScoreDetails");
    if (body.contains("q") && body["q"].is_string()) w.q = body["q"].get<std::string>();

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

    // each node: its first hits, scored, with the details that order them; a window parameter
    // of the wrong type is left as it is, for the nodes to reject
    const bool valid = std::all_of(
        std::begin(kWindowParams), std::end(kWindowParams),
        [&body](const char* p) { return !body.contains(p) || body[p].is_number_unsigned(); });
    const json filter = body.value("filter", json());
    // a named local, not a temporary inside the co_await expression (GCC 12)
    const NodeSearch node_search = [&uid, &body, &w, valid, filter](const Assignment& a,
                                                                    std::uint64_t depth,
                                                                    const Extras& extra) {
        json b = body;
        if (!valid || extra.client_window) {
            // nothing to rewrite
        } else if (w.page_mode) {
            b["page"] = 1;
            b["hitsPerPage"] = depth;
        } else {
            b["offset"] = 0;
            b["limit"] = depth;
        }
        if (extra.scores) {
            b["showRankingScore"] = true;
            b["showRankingScoreDetails"] = true;
        }
        if (extra.retrieve) b["attributesToRetrieve"].push_back(*extra.retrieve);
        if (extra.side == Extras::Side::keyword) {
            b.erase("hybrid");
            b.erase("vector");
        } else if (extra.side == Extras::Side::semantic) {
            b["hybrid"]["semanticRatio"] = 1.0;
        }
        if (extra.facet) {
            if (!b.contains("facets") || !b["facets"].is_array()) b["facets"] = json::array();
            b["facets"].push_back(*extra.facet);
        }
        if (a.restricted) b["filter"] = with_shards(filter, a.shards);
        return node_request(Method::post, index_path(uid) + "/search", b.dump());
    };
    co_return co_await scatter_and_merge(ctx, uid, w, node_search);
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
    apply_tenant_rules(r, uid, body);
    auto avoid = below_settings_floor(ctx, uid, r);
    auto response = co_await search_body(ctx, uid, body, std::move(avoid));
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
    if (!body.is_object() || !body.contains("queries") || !body["queries"].is_array()) {
        throw http::bad_request("Missing field `queries`");
    }
    for (std::size_t i = 0; i < body["queries"].size(); ++i) {
        auto& query = body["queries"][i];
        const auto uid = query.is_object() ? query.value("indexUid", json()) : json();
        if (!uid.is_string()) continue;
        if (!r.index_allowed(uid.get<std::string>())) {
            throw http::ApiError(
                403, "invalid_api_key", http::ErrorType::auth,
                "Inside `.queries[" + std::to_string(i) + "]`: The provided API key is invalid.");
        }
        apply_tenant_rules(r, uid.get<std::string>(), query);
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
    if (const auto* rule = r.tenant_rule(uid); rule && !rule->filter.empty()) {
        // the token's filter ANDed to the client's, sent as a JSON filter
        json own;
        if (by_name.contains("filter")) {
            own = json::parse(by_name["filter"], nullptr, false);
            if (!own.is_array()) own = by_name["filter"];
        }
        const auto fused = with_tenant_filter(r, uid, own).dump();
        std::erase_if(params, [](const auto& p) { return p.first == "filter"; });
        params.emplace_back("filter", fused);
        by_name["filter"] = fused;
    }
    bool valid = true;
    auto number = [&](const char* name, std::uint64_t fallback) -> std::uint64_t {
        const auto it = by_name.find(name);
        if (it == by_name.end()) return fallback;
        const auto& v = it->second;
        const bool ok = !v.empty() && v.size() < 20 && std::all_of(v.begin(), v.end(), [](char c) {
            return c >= '0' && c <= '9';
        });
        valid = valid && ok;  // a bad value is left for the nodes to reject
        return ok ? std::stoull(v) : fallback;
    };
    auto boolean = [&](const char* name) {
        const auto it = by_name.find(name);
        return it != by_name.end() && (it->second == "true" || it->second == "True");
    };
    Window w;
    w.page_mode = by_name.contains("page") || by_name.contains("hitsPerPage");
    w.offset = number("offset", 0);
    w.limit = number("limit", 20);
    w.page = number("page", 1);
    w.hits_per_page = number("hitsPerPage", 20);
    w.want_score = boolean("showRankingScore");
    w.want_details = boolean("showRankingScoreDetails");
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

    w.avoid = below_settings_floor(ctx, uid, r);

    const std::optional<std::string> filter =
        by_name.contains("filter") ? std::optional(by_name["filter"]) : std::nullopt;
    const NodeSearch node_search = [&uid, &params, &by_name, &w, valid, filter](
                                       const Assignment& a, std::uint64_t depth,
                                       const Extras& extra) {
        std::map<std::string, std::string> set;
        if (extra.scores) {
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
        if (extra.retrieve) {
            set["attributesToRetrieve"] =
                by_name.at("attributesToRetrieve") + "," + *extra.retrieve;
        }
        if (extra.facet) {
            const auto it = by_name.find("facets");
            set["facets"] =
                (it == by_name.end() || it->second.empty() ? "" : it->second + ",") + *extra.facet;
        }
        if (a.restricted) set["filter"] = with_shards_param(filter, a.shards);
        const bool keyword_side = extra.side == Extras::Side::keyword;
        if (extra.side == Extras::Side::semantic) set["hybridSemanticRatio"] = "1";
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
    auto response = co_await scatter_and_merge(ctx, uid, w, node_search);
    add_settings_headers(ctx, uid, response);
    co_return response;
}

// A split hybrid search's order over `views` (the keyword side's lists first, as many as
// `keyword` has answers with hits): each side merged across nodes, then the keyword side alone
// when it is good enough (`keyword_only`), else both as milli merges them.
merge::Order hybrid_order(const std::vector<const json*>& views, const Gathered& keyword,
                          std::uint64_t depth, double ratio, const std::string& primary_key,
                          bool& keyword_only) {
    std::size_t keyword_lists = 0;
    for (const auto& a : keyword.answers) keyword_lists += !a.is_null() && a.contains("hits");
    const auto split_at = views.begin() + static_cast<std::ptrdiff_t>(keyword_lists);
    const std::vector<const json*> keyword_views(views.begin(), split_at);
    const std::vector<const json*> semantic_views(split_at, views.end());
    auto all = [](const std::vector<const json*>& lists) {
        std::size_t n = 0;
        for (const json* l : lists) n += l->size();
        return n;
    };
    auto keyword_order = merge::merge_ordered(keyword_views, all(keyword_views), primary_key);
    keyword_only = merge::keyword_good_enough(keyword_views, keyword_order, depth, ratio);
    if (keyword_only) return keyword_order;
    auto semantic_order = merge::merge_ordered(semantic_views, all(semantic_views), primary_key);
    for (auto& at : semantic_order) at.first += keyword_lists;
    return merge::merge_hybrid(views, semantic_order, keyword_order, ratio, primary_key);
}

asio::awaitable<http::Response> scatter_and_merge(Context& ctx, const std::string& uid,
                                                  const Window& w, const NodeSearch& node_search) {
    const auto plan = covering_set(ctx, rotation++, false, w.avoid);
    for (const auto& a : plan) {
        if (std::find(w.avoid.begin(), w.avoid.end(), a.node) != w.avoid.end()) {
            throw http::ApiError(503, "miroir_settings_version_stale", http::ErrorType::system,
                                 "No set of nodes holding the requested settings version covers "
                                 "every shard of index `" +
                                     uid + "`.");
        }
    }
    if (plan.size() == 1 && !plan.front().restricted) {
        auto whole = co_await whole_answer(ctx, plan, node_search, w.avoid);
        if (whole) co_return std::move(*whole);
    }
    const auto settings = co_await merge_settings(ctx, uid, plan);
    // distinct is applied again over the merged hits: each node keeps its best hit of a value,
    // the merge keeps the best of those
    const auto distinct = w.distinct ? w.distinct : settings.distinct;
    auto named = [](const std::vector<std::string>& list, const std::string& name) {
        return std::find(list.begin(), list.end(), name) != list.end();
    };
    Extras extra;
    if (distinct && w.retrieve && !named(*w.retrieve, *distinct)) extra.retrieve = distinct;
    // the distinct values each node hit make the total exact: count them when the nodes can
    const bool count_values = distinct && (w.distinct || settings.facetable(*distinct));
    if (count_values && !named(w.facets, *distinct) && !named(w.facets, "*")) {
        extra.facet = distinct;
    }
    // what the merge of the answers needs to know
    merge::SearchAsk ask;
    ask.page_mode = w.page_mode;
    ask.offset = w.offset;
    ask.limit = w.limit;
    ask.page = w.page;
    ask.hits_per_page = w.hits_per_page;
    ask.want_score = w.want_score;
    ask.want_details = w.want_details;
    ask.q = w.q;
    ask.distinct = distinct;
    ask.count_values = count_values;
    ask.facet_added = extra.facet.has_value();
    ask.client_facets = !w.facets.empty();
    ask.retrieved = extra.retrieve;
    ask.faceting = settings.faceting;

    // each node's hits are already in its rank order: a k-way merge up to the window's end
    const std::uint64_t from = merge::window_start(ask), count = merge::window_length(ask);
    std::uint64_t depth = from + count;
    Gathered gathered;
    std::vector<json*> lists;  // each node's hits
    std::vector<std::pair<std::size_t, std::size_t>> kept;
    std::uint64_t dropped = 0;
    // one node answering for every shard ranks on its own: no scores nor details to ask for,
    // unless a retry or a hedge brings in other nodes
    extra.scores = plan.size() > 1;
    // a hybrid search over several nodes: its keyword and semantic sides asked and merged
    // apart, then together (nodes mixing their own sides would each judge the keyword side
    // "good enough" on their share, and weigh other hits); without a query it is a semantic
    // search
    const bool hybrid = w.semantic_ratio && *w.semantic_ratio < 1.0 && !w.q.empty();
    bool split = false;
    Gathered keyword;           // split: the keyword side (`gathered` holds the semantic one)
    bool keyword_only = false;  // split: the keyword side answered alone
    for (int round = 0;; ++round) {
        split = hybrid && extra.scores;
        Extras side = extra;
        if (split) side.side = Extras::Side::semantic;
        gathered = co_await ask_plan(ctx, plan, node_search, depth, side, w.avoid);
        if (gathered.refusal) co_return std::move(*gathered.refusal);
        if (!extra.scores && gathered.asked.size() > 1) {
            extra.scores = true;
            continue;
        }
        if (split) {
            side.side = Extras::Side::keyword;
            keyword = co_await ask_plan(ctx, plan, node_search, depth, side, w.avoid);
            if (keyword.refusal) co_return std::move(*keyword.refusal);
            gathered.missing.insert(gathered.missing.end(), keyword.missing.begin(),
                                    keyword.missing.end());
            std::sort(gathered.missing.begin(), gathered.missing.end());
            gathered.missing.erase(std::unique(gathered.missing.begin(), gathered.missing.end()),
                                   gathered.missing.end());
        }
        check_unavailable(ctx, uid, gathered.missing);
        // each node's hits: the keyword side's lists first
        lists.clear();
        bool more = false;  // some node may hold hits beyond those it sent
        std::size_t all = 0;
        for (auto* answers : {&keyword.answers, &gathered.answers}) {
            if (answers == &keyword.answers && !split) continue;
            for (auto& a : *answers) {
                if (a.is_null() || !a.contains("hits")) continue;
                lists.push_back(&a["hits"]);
                all += a["hits"].size();
                more = more || a["hits"].size() >= depth;
            }
        }
        // the typo rule as the whole index's dictionary scores it
        merge::normalize_typo(lists);
        const std::vector<const json*> views(lists.begin(), lists.end());
        merge::Order order;
        if (split) {
            order = hybrid_order(views, keyword, depth, *w.semantic_ratio, settings.primary_key,
                                 keyword_only);
        } else {
            order =
                merge::merge_ordered(views, distinct ? all : from + count, settings.primary_key);
        }
        if (!distinct) {
            kept = std::move(order);
            if (kept.size() > from + count) kept.resize(from + count);
            break;
        }
        kept = merge::without_duplicates(views, order, *distinct, dropped);
        // duplicates across shards left the window short: ask deeper
        if (kept.size() >= from + count || !more || round == 3 || depth == 0) break;
        depth *= 4;
    }
    // the answer from the side that answered: the keyword side alone when it was good enough
    auto& answers = split && keyword_only ? keyword.answers : gathered.answers;
    ask.semantic_count = split;
    const auto out = merge::search_answer(ask, answers, lists, kept, dropped, util::random_uuid());
    co_return respond_partial(out, std::move(gathered.missing));
}

// POST facet-search: every node's facet hits for the shards it answers for, counts summed per
// normalized value, ordered and truncated by the index's faceting settings.
asio::awaitable<http::Response> facet_search(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    auto body = http::json_body(r);
    apply_tenant_rules(r, uid, body);
    const auto plan = covering_set(ctx, rotation++);
    const bool object = body.is_object();
    const NodeSearch node_search = [&uid, &body, object](const Assignment& a, std::uint64_t,
                                                         const Extras&) {
        json b = body;
        if (object && a.restricted)
            b["filter"] = with_shards(body.value("filter", json()), a.shards);
        return node_request(Method::post, index_path(uid) + "/facet-search", b.dump());
    };
    auto gathered = co_await ask_plan(ctx, plan, node_search);
    if (gathered.refusal) co_return std::move(*gathered.refusal);
    check_unavailable(ctx, uid, gathered.missing);

    merge::FacetSums sums;
    std::uint64_t processing = 0;
    json query;
    for (const auto& a : gathered.answers) {
        if (a.is_null()) continue;
        processing = std::max(processing, uint_or(a, "processingTimeMs", 0));
        query = a.value("facetQuery", json());
        for (const auto& hit : a.value("facetHits", json::array())) {
            sums.add(hit.value("value", std::string()), hit.value("count", std::uint64_t{0}));
        }
    }
    const auto field = body.value("facetName", json()).is_string()
                           ? body["facetName"].get<std::string>()
                           : std::string();
    json hits = json::array();
    const auto settings = co_await merge_settings(ctx, uid, plan);
    for (const auto& v : sums.ordered(settings.faceting, field)) {
        json hit;
        hit["value"] = v.key;
        hit["count"] = v.count;
        hits.push_back(std::move(hit));
    }
    json out;
    out["facetHits"] = std::move(hits);
    out["facetQuery"] = query;
    out["processingTimeMs"] = processing;
    co_return respond_partial(out, std::move(gathered.missing));
}

// The embedding the similar route compares with: the reference document's first vector for
// `embedder`, from an owner of its shard; null when no owner has it.
asio::awaitable<json> reference_vector(Context& ctx, const std::string& uid, const json& id,
                                       const std::string& embedder) {
    const std::string key = id.is_string() ? id.get<std::string>() : id.dump();
    const auto fleet = ctx.fleet();
    const auto shard = routing::shard_of(key, fleet->shards());
    const std::string target =
        index_path(uid) + "/documents/" + http::percent_encode(key) + "?retrieveVectors=true";
    for (const auto& group : fleet->groups()) {
        for (auto node : fleet->owners(group, shard)) {
            auto result = co_await ctx.nodes[node]->send(
                node_request(Method::get, target),
                std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms));
            if (!result || result->status >= 500) continue;
            if (result->status != 200) co_return json();
            const auto doc = json::parse(result->body, nullptr, false);
            const json vectors =
                doc.is_object() ? doc.value("_vectors", json::object()) : json::object();
            const json mine = vectors.is_object() ? vectors.value(embedder, json()) : json();
            const json embeddings =
                mine.is_object() ? mine.value("embeddings", json::array()) : json::array();
            if (embeddings.is_array() && !embeddings.empty()) co_return embeddings[0];
            co_return json();
        }
    }
    co_return json();
}

// POST similar: the node answering for the reference document's shard runs the similar query
// itself (and so checks it as Meilisearch does); the other nodes run a vector search with the
// reference document's embedding. Hits merged by similarity.
asio::awaitable<http::Response> similar_body(Context& ctx, const std::string& uid,
                                             const json& body) {
    const auto plan = covering_set(ctx, rotation++);
    const bool valid =
        body.is_object() && body.contains("id") && body.value("embedder", json()).is_string() &&
        std::all_of(
            std::begin(kWindowParams), std::begin(kWindowParams) + 2,
            [&body](const char* p) { return !body.contains(p) || body[p].is_number_unsigned(); });
    json key = valid ? body["id"] : json();
    const auto owner_shard =
        valid ? routing::shard_of(key.is_string() ? key.get<std::string>() : key.dump(),
                                  ctx.fleet()->shards())
              : 0;
    const std::uint64_t offset = valid ? uint_or(body, "offset", 0) : 0;
    const std::uint64_t limit = valid ? uint_or(body, "limit", 20) : 20;
    const bool want_score = valid && flag(body, "showRankingScore");
    const bool want_details = valid && flag(body, "showRankingScoreDetails");
    json vector;
    if (valid && plan.size() > 1) {
        vector = co_await reference_vector(ctx, uid, key, body["embedder"].get<std::string>());
    }
    const NodeSearch node_search = [&](const Assignment& a, std::uint64_t, const Extras&) {
        const bool owner =
            std::find(a.shards.begin(), a.shards.end(), owner_shard) != a.shards.end();
        if (!valid || owner || vector.is_null()) {
            json b = body;
            if (valid) {
                b["offset"] = 0;
                b["limit"] = offset + limit;
                b["showRankingScore"] = true;
                if (a.restricted) b["filter"] = with_shards(body.value("filter", json()), a.shards);
            }
            return node_request(Method::post, index_path(uid) + "/similar", b.dump());
        }
        json b = json::object();
        b["vector"] = vector;
        json hybrid;
        hybrid["embedder"] = body["embedder"];
        hybrid["semanticRatio"] = 1.0;
        b["hybrid"] = std::move(hybrid);
        for (const char* k :
             {"filter", "attributesToRetrieve", "retrieveVectors", "rankingScoreThreshold"}) {
            if (body.contains(k)) b[k] = body[k];
        }
        if (a.restricted) b["filter"] = with_shards(body.value("filter", json()), a.shards);
        b["offset"] = 0;
        b["limit"] = offset + limit;
        b["showRankingScore"] = true;
        return node_request(Method::post, index_path(uid) + "/search", b.dump());
    };
    // the owner first: its refusal is the one Meilisearch would give; the owner alone when
    // there is no reference vector to search with
    std::vector<Assignment> asked = plan;
    const auto others = std::stable_partition(asked.begin(), asked.end(), [&](const Assignment& a) {
        return std::find(a.shards.begin(), a.shards.end(), owner_shard) != a.shards.end();
    });
    if (!valid || vector.is_null()) asked.erase(others, asked.end());
    auto gathered = co_await ask_plan(ctx, asked, node_search);
    if (gathered.refusal) co_return std::move(*gathered.refusal);
    check_unavailable(ctx, uid, gathered.missing);

    struct Entry {
        double score;
        json* hit;
    };
    std::vector<Entry> entries;
    std::uint64_t total = 0, processing = 0;
    for (auto& a : gathered.answers) {
        if (a.is_null() || !a.contains("hits")) continue;
        total += uint_or(a, "estimatedTotalHits", 0);
        processing = std::max(processing, uint_or(a, "processingTimeMs", 0));
        for (auto& hit : a["hits"]) entries.push_back({hit.value("_rankingScore", 0.0), &hit});
    }
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& x, const Entry& y) { return x.score > y.score; });
    json hits = json::array();
    for (std::uint64_t i = offset; i < entries.size() && i < offset + limit; ++i) {
        json& hit = *entries[i].hit;
        merge::strip_reserved(hit);
        hit.erase("_rankingScore");
        hit.erase("_rankingScoreDetails");
        if (want_score) hit["_rankingScore"] = entries[i].score;
        if (want_details) {
            json sort;
            sort["order"] = 0;
            sort["similarity"] = entries[i].score;
            hit["_rankingScoreDetails"] = json::object({{"vectorSort", sort}});
        }
        hits.push_back(std::move(hit));
    }
    json out;
    out["hits"] = std::move(hits);
    out["id"] = key.is_string() ? key.get<std::string>() : key.dump();
    out["processingTimeMs"] = processing;
    out["limit"] = limit;
    out["offset"] = offset;
    out["estimatedTotalHits"] = total;
    co_return respond_partial(out, std::move(gathered.missing));
}

asio::awaitable<http::Response> similar_post(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    auto body = http::json_body(r);
    apply_tenant_rules(r, uid, body);
    co_return co_await similar_body(ctx, uid, body);
}

// GET similar: the same query from query-string parameters.
asio::awaitable<http::Response> similar_get(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const http::Query q(r.query, {"id", "embedder", "offset", "limit", "filter",
                                  "attributesToRetrieve", "retrieveVectors", "showRankingScore",
                                  "showRankingScoreDetails", "rankingScoreThreshold"});
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
    if (auto v = q.get("attributesToRetrieve")) body["attributesToRetrieve"] = http::split_csv(*v);
    if (auto v = q.get("rankingScoreThreshold")) {
        char* end = nullptr;
        const double threshold = std::strtod(v->c_str(), &end);
        if (v->empty() || end != v->c_str() + v->size()) {
            throw http::error(400, "invalid_similar_ranking_score_threshold",
                              "Invalid value in parameter `rankingScoreThreshold`: could not "
                              "parse `" +
                                  *v + "` as a float.");
        }
        body["rankingScoreThreshold"] = threshold;
    }
    apply_tenant_rules(r, uid, body);
    co_return co_await similar_body(ctx, uid, body);
}

}  // namespace

std::string query_index_uid(const json& query, std::size_t position) {
    const std::string prefix = "Inside `.queries[" + std::to_string(position) + "]`: ";
    if (!query.is_object() || !query.contains("indexUid") || !query["indexUid"].is_string()) {
        throw http::error(400, "missing_index_uid", prefix + "Missing field `indexUid`");
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
    error["message"] = "Inside `.queries[" + std::to_string(position) +
                       "]`: " + parsed.value("message", std::string());
    error["code"] = code;
    error["type"] = parsed.value("type", std::string("internal"));
    error["link"] = "https://docs.meilisearch.com/errors#" + code;
    return http::respond(code == "index_not_found" ? 400 : answer.status, error);
}

asio::awaitable<json> faceting_settings(Context& ctx, const std::string& uid) {
    const auto plan = covering_set(ctx, rotation++);
    const auto settings = co_await merge_settings(ctx, uid, plan);
    co_return settings.faceting;
}

void forget_settings(const std::string& uid) {
    std::lock_guard lock(settings_mutex);
    settings_cache.erase(uid);
}

void add_search_routes(http::Router& router, Context& ctx) {
    router.add(Method::post, "/indexes/{uid}/search", http::Access::client,
               [&ctx](http::Request& r) { return search_post(ctx, r); });
    router.add(Method::get, "/indexes/{uid}/search", http::Access::client,
               [&ctx](http::Request& r) { return search_get(ctx, r); });
    router.add(Method::post, "/indexes/{uid}/facet-search", http::Access::client,
               [&ctx](http::Request& r) { return facet_search(ctx, r); });
    router.add(Method::post, "/indexes/{uid}/similar", http::Access::client,
               [&ctx](http::Request& r) { return similar_post(ctx, r); });
    router.add(Method::get, "/indexes/{uid}/similar", http::Access::client,
               [&ctx](http::Request& r) { return similar_get(ctx, r); });
    router.add(Method::post, "/multi-search", http::Access::client,
               [&ctx](http::Request& r) { return multi_search(ctx, r); });
}

}  // namespace miroir::api
