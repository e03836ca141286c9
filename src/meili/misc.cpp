// GET /health and GET /version.
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/version.hpp>

#include "route.hpp"

namespace miroir::meili {

using namespace miroir::fleet;

namespace {

// Always available while the process serves: node health is /_miroir/ready's business.
boost::asio::awaitable<http::Response> health(http::Request&) {
    co_return http::Response::json(200, R"({"status":"available"})");
}

// The Meilisearch API version Miroir reproduces; Miroir's own version is in a header.
boost::asio::awaitable<http::Response> version(http::Request&) {
    nlohmann::ordered_json body;
    body["commitSha"] = kCommitSha;
    body["commitDate"] = kCommitDate;
    body["pkgVersion"] = kMeilisearchApiVersion;
    auto response = http::Response::json(200, body.dump());
    response.headers.set("X-Miroir-Version", kVersion);
    co_return response;
}

}  // namespace

void add_route(http::Router& router, Context& ctx, http::Method method, const char* pattern,
               const char* action, RouteHandler handler) {
    router.add(method, pattern, action,
               [&ctx, handler](http::Request& r) { return handler(ctx, r); });
}

void add_misc_routes(http::Router& router, Context&) {
    router.add(http::Method::get, "/health", http::Access::open, health);
    router.add(http::Method::get, "/version", "version", version);
}

}  // namespace miroir::meili
