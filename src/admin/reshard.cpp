// Online resharding: POST /_miroir/indexes/{uid}/reshard, GET .../reshard/status, POST
// .../reshard/rollback (docs/operations.md, "Resharding"). The work is the reshard job's.
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/workers/reshard.hpp>

#include "policy_fields.hpp"

namespace miroir::admin {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

constexpr std::int64_t kMaxShards = 65536;

workers::ReshardRequest read_request(const json& body) {
    if (!body.is_object()) {
        throw http::error(
            400, "miroir_invalid_reshard",
            "Invalid value type: expected an object, but found " + http::found_value(body));
    }
    workers::ReshardRequest request;
    for (const auto& [key, value] : body.items()) {
        if (key == "new_shards") {
            request.new_shards = static_cast<std::uint32_t>(
                whole(value, key, 1, kMaxShards, "miroir_invalid_reshard"));
        } else if (key == "throttle_docs_per_sec") {
            request.throttle_docs_per_sec = static_cast<std::uint32_t>(
                whole(value, key, 0, 1000000000, "miroir_invalid_reshard"));
        } else if (key == "retain_old_index_hours") {
            if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 8760) {
                throw http::error(400, "miroir_invalid_reshard",
                                  "Invalid value at `.retain_old_index_hours`: expected a number "
                                  "from 0 to 8760, but found " +
                                      http::found_value(value));
            }
            request.retain_old_index_hours = value.get<double>();
        } else {
            throw http::error(400, "miroir_invalid_reshard",
                              "Unknown field `" + key +
                                  "`: expected one of `new_shards`, `throttle_docs_per_sec`, "
                                  "`retain_old_index_hours`.");
        }
    }
    if (request.new_shards == 0) {
        throw http::error(400, "miroir_invalid_reshard", "Missing field `new_shards`.");
    }
    return request;
}

std::string index_named(http::Request& r) {
    std::string uid(r.param("uid"));
    scatter::check_index_uid(uid);
    return uid;
}

asio::awaitable<http::Response> start(fleet::Context& ctx, http::Request& r) {
    const auto uid = index_named(r);
    const auto request = read_request(http::json_body(r));
    const auto status = co_await workers::start_reshard(ctx, uid, request);
    co_return http::respond(202, json::parse(status));
}

asio::awaitable<http::Response> status(fleet::Context& ctx, http::Request& r) {
    const auto uid = index_named(r);
    const auto found = co_await workers::reshard_status(ctx, uid);
    if (!found) {
        throw http::error(404, "miroir_reshard_not_found",
                          "Index `" + uid + "` has not been resharded.");
    }
    co_return http::respond(200, json::parse(*found));
}

asio::awaitable<http::Response> rollback(fleet::Context& ctx, http::Request& r) {
    const auto uid = index_named(r);
    const auto found = co_await workers::rollback_reshard(ctx, uid);
    co_return http::respond(202, json::parse(found));
}

}  // namespace

void add_reshard_routes(http::Router& router, fleet::Context& ctx) {
    router.add(http::Method::post, "/_miroir/indexes/{uid}/reshard", http::Access::admin,
               [&ctx](http::Request& r) { return start(ctx, r); });
    router.add(http::Method::get, "/_miroir/indexes/{uid}/reshard/status", http::Access::admin,
               [&ctx](http::Request& r) { return status(ctx, r); });
    router.add(http::Method::post, "/_miroir/indexes/{uid}/reshard/rollback", http::Access::admin,
               [&ctx](http::Request& r) { return rollback(ctx, r); });
}

}  // namespace miroir::admin
