// POST /indexes/{uid}/explain (docs/search.md, "Explain"): a search body answered with its plan
// — the alias it named, the group it is pinned to and why, the nodes, shards and depths it
// would ask, warnings — and, with `?execute=true`, run and timed per node. Needs the `search`
// action on the index, as the search itself.
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/scatter/explain.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/scatter/settings_sync.hpp>

#include "search.hpp"

namespace miroir::meili {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// `?execute=` as a boolean, Meilisearch's way: `true` or `false`, anything else refused.
bool execute_of(const http::Request& r) {
    bool execute = false;
    for (const auto& [name, value] : http::split_query(r.query)) {
        if (name != "execute") continue;
        if (value != "true" && value != "false") {
            throw http::error(400, "bad_request",
                              "Invalid value in parameter `execute`: could not parse `" + value +
                                  "` as a boolean, expected either `true` or `false`.");
        }
        execute = value == "true";
    }
    return execute;
}

// Why the search reads the group it reads.
json group_choice(const http::Request& r, const json& plan) {
    if (r.read_group) return {{"id", r.read_group->first}, {"reason", r.read_group->second}};
    std::optional<int> group;
    for (const auto& node : plan["nodes"]) {
        const int g = node["group"].get<int>();
        if (group && *group != g) return {{"id", nullptr}, {"reason", "shards read across groups"}};
        group = g;
    }
    const auto reason = plan["groups"].size() == 1 ? "the only readable group"
                                                   : "groups taken in turn, the first whose "
                                                     "nodes that are up cover every shard";
    return {{"id", group ? json(*group) : json()}, {"reason", reason}};
}

asio::awaitable<http::Response> explain_post(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    scatter::check_index_uid(uid);
    auto body = http::json_body(r);
    if (!body.is_object()) {
        throw http::error(
            400, "bad_request",
            "Invalid value type: expected an object, but found " + http::found_value(body));
    }
    scatter::ExplainQuery q;
    q.execute = execute_of(r);
    if (!co_await scatter::lookup_index(ctx, uid)) {
        throw http::error(404, "index_not_found", "Index `" + uid + "` not found.");
    }
    if (body.contains("sort") && body["sort"].is_array()) {
        for (const auto& rule : body["sort"]) {
            if (rule.is_string()) q.sort.push_back(rule.get<std::string>());
        }
    }
    apply_read_rules(ctx, r, uid, body);
    auto w = window_of(ctx, body);
    w.avoid = scatter::below_settings_floor(ctx, uid, r);
    // a named local, not a temporary inside the co_await expression (GCC 12)
    const auto node_search = node_search_of(uid, body, w.page_mode);
    auto plan = co_await scatter::explain(ctx, uid, w, node_search, q);
    json out;
    out["indexUid"] = uid;
    out["alias"] = r.alias ? json(*r.alias) : json();
    out["group"] = group_choice(r, plan);
    for (auto& [key, value] : plan.items()) {
        if (key != "index") out[key] = std::move(value);
    }
    co_return http::respond(200, out);
}

}  // namespace

void add_explain_routes(http::Router& router, Context& ctx) {
    router.add(Method::post, "/indexes/{uid}/explain", "search",
               [&ctx](http::Request& r) { return explain_post(ctx, r); });
}

}  // namespace miroir::meili
