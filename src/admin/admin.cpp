// /_miroir/ready, /_miroir/workers, /_miroir/hints, /_miroir/anti-entropy/* and the metrics
// endpoints.
#include <map>

#include <nlohmann/json.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/hints.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/workers/supervisor.hpp>
#include <miroir/workers/workers.hpp>

namespace miroir::admin {

namespace {

namespace asio = boost::asio;

// Ready when at least one replica group can cover every shard: a group whose unreachable
// nodes number fewer than the replication factor still holds a copy of each shard.
asio::awaitable<http::Response> ready(fleet::Context& ctx) {
    const auto timeout = std::chrono::milliseconds(ctx.config.health.timeout_ms);
    const auto fleet = ctx.fleet();
    const auto& members = fleet->members();
    std::vector<asio::awaitable<upstream::UpstreamResult>> probes;
    for (auto slot : members) probes.push_back(ctx.nodes[slot]->probe(timeout));
    // ask every node's /health at once
    const auto results = co_await upstream::gather(std::move(probes));

    std::vector<bool> up(fleet->size(), false);
    nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
    for (std::size_t k = 0; k < results.size(); ++k) {
        up[members[k]] = results[k].has_value() && results[k]->status == 200;
        nodes.push_back({{"id", fleet->node_id(members[k])}, {"available", up[members[k]]}});
    }
    bool covered = false;
    for (const auto& group : fleet->groups()) {
        std::uint32_t down = 0;
        for (auto n : group.nodes) down += up[n] ? 0 : 1;
        if (down < fleet->topology().replication_factor) covered = true;
    }
    nlohmann::ordered_json body;
    body["status"] = covered ? "ready" : "unavailable";
    body["nodes"] = std::move(nodes);
    co_return http::Response::json(covered ? 200 : 503, body.dump());
}

asio::awaitable<http::Response> metrics_text(fleet::Context& ctx) {
    http::Response r;
    r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.body = ctx.metrics.serialize();
    co_return r;
}

asio::awaitable<http::Response> workers_state(const workers::Supervisor& supervisor) {
    nlohmann::ordered_json body;
    body["workers"] = supervisor.state();
    co_return http::Response::json(200, body.dump());
}

// The hints waiting for their nodes: per node, how many, the documents they name (a deletion by
// filter or a clear counts none) and when the oldest was made.
asio::awaitable<http::Response> hints_state(fleet::Context& ctx) {
    struct Pending {
        std::uint64_t hints = 0, documents = 0;
        std::int64_t oldest = 0;
    };
    std::map<std::string, Pending> by_node;
    std::uint64_t total = 0;
    const auto records = co_await ctx.store.records(scatter::kHintTable);
    for (const auto& [key, text] : records) {
        const auto hint = scatter::decode_hint(key, text);
        if (!hint) continue;
        auto& p = by_node[hint->node];
        ++p.hints;
        ++total;
        p.documents += hint->ids.size();
        if (p.oldest == 0 || hint->at < p.oldest) p.oldest = hint->at;
    }
    nlohmann::ordered_json body;
    body["pending"] = total;
    body["nodes"] = nlohmann::ordered_json::array();
    for (const auto& [node, p] : by_node) {
        body["nodes"].push_back({{"node", node},
                                 {"hints", p.hints},
                                 {"documents", p.documents},
                                 {"oldestAtMs", p.oldest / 1000000}});
    }
    co_return http::Response::json(200, body.dump());
}

// POST /_miroir/anti-entropy/run: a pass over `index` (every index without one) as soon as the
// pod running anti-entropy can; 202 with the time asked.
asio::awaitable<http::Response> run_anti_entropy(fleet::Context& ctx, http::Request& r) {
    std::string uid;
    if (!r.body.empty()) {
        const auto body = http::json_body(r);
        if (!body.is_object()) {
            throw http::error(
                400, "bad_request",
                "Invalid value type: expected an object, but found " + http::found_value(body));
        }
        for (const auto& [key, value] : body.items()) {
            if (key != "index") {
                throw http::error(400, "bad_request",
                                  "Unknown field `" + key + "`: expected `index`.");
            }
            if (!value.is_string()) {
                throw http::error(400, "bad_request",
                                  "Invalid value type at `.index`: expected a string, but found " +
                                      http::found_value(value));
            }
            uid = value.get<std::string>();
        }
    }
    if (!uid.empty()) {
        scatter::check_index_uid(uid);
        if (!co_await scatter::lookup_index(ctx, uid)) {
            throw http::error(404, "index_not_found", "Index `" + uid + "` not found.");
        }
    }
    if (!ctx.config.anti_entropy.enabled) {
        throw http::error(409, "miroir_anti_entropy_disabled",
                          "Anti-entropy is disabled (`anti_entropy.enabled: false`).");
    }
    const auto at = co_await workers::request_anti_entropy(ctx, uid);
    nlohmann::ordered_json body;
    body["index"] = uid.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(uid);
    body["requestedAt"] = at;
    co_return http::Response::json(202, body.dump());
}

asio::awaitable<http::Response> anti_entropy_status(fleet::Context& ctx) {
    co_return http::Response::json(200, co_await workers::anti_entropy_status(ctx));
}

}  // namespace

void add_worker_routes(http::Router& router, const workers::Supervisor& supervisor) {
    router.add(http::Method::get, "/_miroir/workers", http::Access::admin,
               [&supervisor](http::Request&) { return workers_state(supervisor); });
}

void add_admin_routes(http::Router& router, fleet::Context& ctx) {
    router.add(http::Method::get, "/_miroir/ready", http::Access::open,
               [&ctx](http::Request&) { return ready(ctx); });
    router.add(http::Method::get, "/_miroir/metrics", http::Access::admin,
               [&ctx](http::Request&) { return metrics_text(ctx); });
    router.add(http::Method::get, "/_miroir/hints", http::Access::admin,
               [&ctx](http::Request&) { return hints_state(ctx); });
    router.add(http::Method::get, "/_miroir/anti-entropy/status", http::Access::admin,
               [&ctx](http::Request&) { return anti_entropy_status(ctx); });
    router.add(http::Method::post, "/_miroir/anti-entropy/run", http::Access::admin,
               [&ctx](http::Request& r) { return run_anti_entropy(ctx, r); });
}

void add_metrics_listener_routes(http::Router& router, fleet::Context& ctx) {
    router.add(http::Method::get, "/metrics", http::Access::open,
               [&ctx](http::Request&) { return metrics_text(ctx); });
}

}  // namespace miroir::admin
