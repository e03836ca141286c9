// /_miroir/ready and the metrics endpoints.
#include <map>

#include <nlohmann/json.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/api/context.hpp>
#include <miroir/config/config.hpp>
#include <miroir/http/router.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/upstream/gather.hpp>

namespace miroir::admin {

namespace {

namespace asio = boost::asio;

asio::awaitable<upstream::UpstreamResult> probe(upstream::NodeClient& node,
                                                std::chrono::milliseconds timeout) {
    upstream::UpstreamRequest request;
    request.target = "/health";
    co_return co_await node.send(std::move(request), timeout);
}

// Ready when at least one replica group can cover every shard: a group whose unreachable
// nodes number fewer than the replication factor still holds a copy of each shard.
asio::awaitable<http::Response> ready(api::Context& ctx) {
    const auto timeout = std::chrono::milliseconds(ctx.config.health.timeout_ms);
    std::vector<asio::awaitable<upstream::UpstreamResult>> probes;
    for (auto& node : ctx.nodes) probes.push_back(probe(*node, timeout));
    // ask every node's /health at once
    const auto results = co_await upstream::gather(ctx.executor, std::move(probes));

    std::map<int, std::uint32_t> down_per_group;
    nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& node = ctx.config.nodes[i];
        const bool up = results[i].has_value() && results[i]->status == 200;
        if (!up) ++down_per_group[node.replica_group];
        nodes.push_back({{"id", node.id}, {"available", up}});
    }
    bool covered = false;
    for (std::uint32_t g = 0; g < ctx.config.replica_groups; ++g) {
        if (down_per_group[static_cast<int>(g)] < ctx.config.replication_factor) covered = true;
    }
    nlohmann::ordered_json body;
    body["status"] = covered ? "ready" : "unavailable";
    body["nodes"] = std::move(nodes);
    co_return http::Response::json(covered ? 200 : 503, body.dump());
}

asio::awaitable<http::Response> metrics_text(api::Context& ctx) {
    http::Response r;
    r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.body = ctx.metrics.serialize();
    co_return r;
}

}  // namespace

void add_admin_routes(http::Router& router, api::Context& ctx) {
    router.add(http::Method::get, "/_miroir/ready", http::Access::open,
               [&ctx](http::Request&) { return ready(ctx); });
    router.add(http::Method::get, "/_miroir/metrics", http::Access::admin,
               [&ctx](http::Request&) { return metrics_text(ctx); });
}

void add_metrics_listener_routes(http::Router& router, api::Context& ctx) {
    router.add(http::Method::get, "/metrics", http::Access::open,
               [&ctx](http::Request&) { return metrics_text(ctx); });
}

}  // namespace miroir::admin
