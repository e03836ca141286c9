// The topology in the task store: loaded (or seeded) at start, changed as compare-and-set
// versions, reloaded by every pod.
#include <chrono>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/fleet/write_gate.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/log/log.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::fleet {

namespace asio = boost::asio;

namespace {

std::string node_list(const std::vector<NodeEntry>& nodes) {
    std::string out;
    for (const auto& n : nodes) {
        if (n.role == NodeRole::removed) continue;
        out += (out.empty() ? "" : ", ") + n.id + "@" + n.address + "/" + std::to_string(n.group);
    }
    return out;
}

}  // namespace

void install_topology(Context& ctx, Topology topology) {
    const auto current = ctx.fleet();
    if (current && current->version() >= topology.version) return;
    ctx.nodes.ensure(topology);
    const auto version = topology.version;
    if (ctx.fleets.offer(std::make_shared<const Fleet>(std::move(topology)))) {
        log::debug("topology installed", {{"version", static_cast<std::int64_t>(version)}});
    }
}

asio::awaitable<bool> reload_topology(Context& ctx) {
    const auto text = co_await ctx.store.topology();
    if (!text) co_return false;
    auto topology = Topology::parse(*text);
    if (topology.version <= ctx.fleet()->version()) co_return false;
    install_topology(ctx, std::move(topology));
    co_return true;
}

asio::awaitable<void> load_topology(Context& ctx) {
    auto text = co_await ctx.store.topology();
    if (!text) {
        auto seed = Topology::seed(ctx.config);
        const auto first = seed.dump();
        const bool stored_first = co_await ctx.store.put_topology(first, seed.version, 0);
        if (stored_first) {
            log::info("topology stored from the configuration",
                      {{"nodes", static_cast<std::int64_t>(seed.nodes.size())}});
            install_topology(ctx, std::move(seed));
            co_return;
        }
        text = co_await ctx.store.topology();  // another pod stored it first
        if (!text) throw std::runtime_error("the task store lost the topology");
    }
    auto stored = Topology::parse(*text);
    const auto seed = Topology::seed(ctx.config);
    if (node_list(stored.nodes) != node_list(seed.nodes)) {
        log::warn(
            "the stored topology differs from miroir.nodes: the stored one is used (change "
            "nodes through /_miroir/nodes)",
            {{"stored", node_list(stored.nodes)}, {"configured", node_list(seed.nodes)}});
    }
    if (stored.shards != seed.shards || stored.replication_factor != seed.replication_factor) {
        log::warn(
            "the stored topology's shards or replication factor differ from the "
            "configuration: the stored ones are used",
            {{"shards", static_cast<std::int64_t>(stored.shards)},
             {"replication_factor", static_cast<std::int64_t>(stored.replication_factor)}});
    }
    install_topology(ctx, std::move(stored));
}

asio::awaitable<std::shared_ptr<const Fleet>> change_topology(
    Context& ctx, std::function<void(Topology&)> change) {
    for (int attempt = 0; attempt < 20; ++attempt) {
        const auto text = co_await ctx.store.topology();
        Topology topology = ctx.fleet()->topology();
        try {
            if (text) topology = Topology::parse(*text);
        } catch (const std::invalid_argument& e) {
            throw http::ApiError(
                503, "miroir_topology_invalid", http::ErrorType::system,
                std::string("The stored topology cannot be read: ") + e.what() + ".");
        }
        const auto expected = topology.version;
        change(topology);
        topology.version = expected + 1;
        const auto next = topology.dump();
        const bool stored = co_await ctx.store.put_topology(next, topology.version, expected);
        if (stored) {
            install_topology(ctx, std::move(topology));
            co_return ctx.fleet();
        }
    }
    throw http::ApiError(503, "miroir_topology_busy", http::ErrorType::system,
                         "The topology kept changing under this change; retry it.");
}

}  // namespace miroir::fleet
