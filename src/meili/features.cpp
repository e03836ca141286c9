// GET and PATCH /experimental-features: the fleet's features, as one node's. A change goes to
// every node; the answer is what every node that answers has in common.
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/node_requests.hpp>

namespace miroir::meili {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

http::ApiError none_answered() {
    return http::ApiError(503, "miroir_no_quorum", http::ErrorType::system,
                          "No node answered about the experimental features.");
}

// A feature is on for the fleet when it is on for every node that answered; the answer names
// the nodes that did not (X-Miroir-Degraded).
http::Response common_state(const fleet::Fleet& fleet,
                            const std::vector<scatter::NodeOutcome>& outcomes) {
    json common;
    for (const auto& o : outcomes) {
        if (!o.result || o.result->status != 200) continue;
        const auto features = json::parse(o.result->body, nullptr, false);
        if (!features.is_object()) continue;
        if (common.is_null()) {
            common = features;
            continue;
        }
        for (auto& [name, on] : common.items()) {
            if (on.is_boolean() && features.value(name, false) != true) on = false;
        }
    }
    if (common.is_null()) throw none_answered();
    auto response = http::respond(200, common);
    const auto missed = scatter::nodes_without(fleet, outcomes, 200);
    if (!missed.empty()) response.headers.set("X-Miroir-Degraded", missed);
    return response;
}

asio::awaitable<http::Response> get_features(Context& ctx) {
    const auto fleet = ctx.fleet();
    const auto request = scatter::node_request(Method::get, "/experimental-features");
    const auto outcomes = co_await scatter::fan_out(ctx, scatter::broadcast(*fleet, request));
    co_return common_state(*fleet, outcomes);
}

// Every node, or the nodes' own refusal (a request one node refuses, all refuse: nothing
// changed). A node that did not answer is named; sending the same change again is harmless.
asio::awaitable<http::Response> patch_features(Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    const auto fleet = ctx.fleet();
    const auto request =
        scatter::node_request(Method::patch, "/experimental-features", body.dump());
    const auto outcomes = co_await scatter::fan_out(ctx, scatter::broadcast(*fleet, request));
    if (const auto* refused = scatter::refusal_in(outcomes)) {
        co_return http::Response::json(refused->status, refused->body);
    }
    co_return common_state(*fleet, outcomes);
}

}  // namespace

void add_feature_routes(http::Router& router, Context& ctx) {
    router.add(Method::get, "/experimental-features", "experimental.get",
               [&ctx](http::Request&) { return get_features(ctx); });
    router.add(Method::patch, "/experimental-features", "experimental.update",
               [&ctx](http::Request& r) { return patch_features(ctx, r); });
}

}  // namespace miroir::meili
