// /_miroir/ready, /_miroir/topology and the metrics endpoints.
#include <map>

#include <nlohmann/json.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/api/context.hpp>
#include <miroir/api/fleet.hpp>
#include <miroir/config/config.hpp>
#include <miroir/http/router.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/upstream/health.hpp>

namespace miroir::admin {

namespace {

namespace asio = boost::asio;

// Ready when at least one replica group can cover every shard: a group whose unreachable
// nodes number fewer than the replication factor still holds a copy of each shard.
asio::awaitable<http::Response> ready(api::Context& ctx) {
    const auto timeout = std::chrono::milliseconds(ctx.config.health.timeout_ms);
    std::vector<asio::awaitable<upstream::UpstreamResult>> probes;
    for (auto& node : ctx.nodes) probes.push_back(node->probe(timeout));
    // ask every node's /health at once
    const auto results = co_await upstream::gather(std::move(probes));

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

// The nodes with their health, the groups, and whether every shard has a replica that is up.
asio::awaitable<http::Response> topology(api::Context& ctx) {
    using json = nlohmann::ordered_json;
    const auto& fleet = ctx.fleet;
    json nodes = json::array();
    for (std::size_t i = 0; i < fleet.size(); ++i) {
        const auto h = ctx.health.get(i);
        const auto& group = fleet.group_of(i);
        json node;
        node["id"] = fleet.node_id(i);
        node["address"] = ctx.config.nodes[i].address;
        node["group"] = group.id;
        node["state"] = upstream::to_string(h.state);
        node["shards"] = group.placement.shards_of(fleet.node_id(i)).size();
        node["failedProbes"] = h.failures;
        node["probeMs"] = h.probe_ms;
        node["checkedAt"] = h.checked_at ? json(h.checked_at) : json(nullptr);
        node["changedAt"] = h.changed_at ? json(h.changed_at) : json(nullptr);
        nodes.push_back(std::move(node));
    }
    json groups = json::array();
    std::vector<std::uint32_t> uncovered;  // shards no node that is up holds, in any group
    std::vector<bool> anywhere(fleet.shards(), false);
    for (const auto& group : fleet.groups()) {
        json ids = json::array();
        for (auto n : group.nodes) ids.push_back(fleet.node_id(n));
        bool complete = true;
        for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
            bool up = false;
            for (auto n : fleet.owners(group, s)) up = up || ctx.health.usable(n);
            complete = complete && up;
            if (up) anywhere[s] = true;
        }
        json g;
        g["id"] = group.id;
        g["nodes"] = std::move(ids);
        g["complete"] = complete;  // serves every shard on its own
        groups.push_back(std::move(g));
    }
    for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
        if (!anywhere[s]) uncovered.push_back(s);
    }
    json body;
    body["shards"] = fleet.shards();
    body["replicationFactor"] = ctx.config.replication_factor;
    body["nodes"] = std::move(nodes);
    body["groups"] = std::move(groups);
    body["unavailableShards"] = uncovered;
    co_return http::Response::json(200, body.dump());
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
    router.add(http::Method::get, "/_miroir/topology", http::Access::admin,
               [&ctx](http::Request&) { return topology(ctx); });
    router.add(http::Method::get, "/_miroir/metrics", http::Access::admin,
               [&ctx](http::Request&) { return metrics_text(ctx); });
}

void add_metrics_listener_routes(http::Router& router, api::Context& ctx) {
    router.add(http::Method::get, "/metrics", http::Access::open,
               [&ctx](http::Request&) { return metrics_text(ctx); });
}

}  // namespace miroir::admin
