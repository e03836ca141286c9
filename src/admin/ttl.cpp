// The TTL policy of an index: GET, POST (set), DELETE /_miroir/indexes/{uid}/ttl-policy
// (docs/operations.md, "Document TTL").
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/ttl.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/node_requests.hpp>

#include "policy_fields.hpp"

namespace miroir::admin {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

json policy_json(const std::string& uid, const fleet::TtlPolicy& p) {
    json out;
    out["indexUid"] = uid;
    out["default_ttl_s"] = p.default_ttl_s;
    out["sweep_interval_s"] = p.sweep_interval_s;
    out["max_deletes_per_sweep"] = p.max_deletes_per_sweep;
    out["enabled"] = p.enabled;
    return out;
}

// The index named by the route, which must exist.
asio::awaitable<std::string> existing_index(fleet::Context& ctx, http::Request& r) {
    std::string uid(r.param("uid"));
    scatter::check_index_uid(uid);
    if (!co_await scatter::lookup_index(ctx, uid)) {
        throw http::error(404, "index_not_found", "Index `" + uid + "` not found.");
    }
    co_return uid;
}

// A whole number field of a policy body from `least` to `most`.
std::int64_t whole(const json& value, const std::string& key, std::int64_t least,
                   std::int64_t most) {
    return admin::whole(value, key, least, most, "miroir_invalid_ttl_policy");
}

// The policy a body asks for, starting from `p`.
fleet::TtlPolicy read_policy(const json& body, fleet::TtlPolicy p) {
    if (!body.is_object()) {
        throw http::error(
            400, "miroir_invalid_ttl_policy",
            "Invalid value type: expected an object, but found " + http::found_value(body));
    }
    for (const auto& [key, value] : body.items()) {
        if (key == "default_ttl_s") {
            p.default_ttl_s = whole(value, key, 0, kCentury);
        } else if (key == "sweep_interval_s") {
            p.sweep_interval_s = whole(value, key, 1, kYear);
        } else if (key == "max_deletes_per_sweep") {
            p.max_deletes_per_sweep = whole(value, key, 1, 1000000000);
        } else if (key == "enabled") {
            if (!value.is_boolean()) {
                throw http::error(400, "miroir_invalid_ttl_policy",
                                  "Invalid value type at `.enabled`: expected a boolean, but "
                                  "found " +
                                      http::found_value(value));
            }
            p.enabled = value.get<bool>();
        } else {
            throw http::error(400, "miroir_invalid_ttl_policy",
                              "Unknown field `" + key +
                                  "`: expected one of `default_ttl_s`, `sweep_interval_s`, "
                                  "`max_deletes_per_sweep`, `enabled`.");
        }
    }
    return p;
}

// The policy of index `uid`; 404 when it has none.
fleet::TtlPolicy held_policy(fleet::Context& ctx, const std::string& uid) {
    const auto fleet = ctx.fleet();
    const auto& held = fleet->topology().ttl;
    const auto it = held.find(uid);
    if (it == held.end()) {
        throw http::error(404, "miroir_ttl_policy_not_found",
                          "Index `" + uid + "` has no TTL policy.");
    }
    return it->second;
}

asio::awaitable<http::Response> get_policy(fleet::Context& ctx, http::Request& r) {
    const auto uid = co_await existing_index(ctx, r);
    co_return http::respond(200, policy_json(uid, held_policy(ctx, uid)));
}

asio::awaitable<http::Response> set_policy(fleet::Context& ctx, http::Request& r) {
    const auto uid = co_await existing_index(ctx, r);
    const auto fleet = ctx.fleet();
    const auto& held = fleet->topology().ttl;
    const auto it = held.find(uid);
    const auto policy =
        read_policy(http::json_body(r), it == held.end() ? fleet::TtlPolicy{} : it->second);
    co_await meili::set_ttl_policy(ctx, uid, policy);
    co_return http::respond(200, policy_json(uid, policy));
}

asio::awaitable<http::Response> delete_policy(fleet::Context& ctx, http::Request& r) {
    const auto uid = co_await existing_index(ctx, r);
    // the field stays filterable on the nodes: the policy is kept, disabled
    std::optional<fleet::TtlPolicy> policy = held_policy(ctx, uid);
    policy->enabled = false;
    co_await meili::set_ttl_policy(ctx, uid, policy);
    co_return http::respond(200, policy_json(uid, *policy));
}

}  // namespace

void add_ttl_routes(http::Router& router, fleet::Context& ctx) {
    const std::string path = "/_miroir/indexes/{uid}/ttl-policy";
    router.add(http::Method::get, path, http::Access::admin,
               [&ctx](http::Request& r) { return get_policy(ctx, r); });
    router.add(http::Method::post, path, http::Access::admin,
               [&ctx](http::Request& r) { return set_policy(ctx, r); });
    router.add(http::Method::del, path, http::Access::admin,
               [&ctx](http::Request& r) { return delete_policy(ctx, r); });
}

}  // namespace miroir::admin
