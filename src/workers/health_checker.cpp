// The health checker: every `health.interval_ms`, GET /health on every node at once with
// `health.timeout_ms`; the outcomes move the nodes between healthy, suspect and down (see
// upstream/health.hpp), and are exported as metrics and logged when a state changes.
#include <chrono>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/util/time.hpp>
#include <miroir/workers/workers.hpp>

namespace miroir::workers {

using namespace miroir::fleet;

namespace {

namespace asio = boost::asio;

asio::awaitable<void> check_once(Context& ctx) {
    const auto timeout = std::chrono::milliseconds(ctx.config.health.timeout_ms);
    std::vector<asio::awaitable<upstream::UpstreamResult>> probes;
    const auto started = std::chrono::steady_clock::now();
    const auto fleet = ctx.fleet();
    const auto& members = fleet->members();
    for (auto slot : members) probes.push_back(ctx.nodes[slot]->probe(timeout));
    const auto results = co_await upstream::gather(std::move(probes));
    const double round_trip =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    for (std::size_t k = 0; k < results.size(); ++k) {
        const auto i = members[k];
        const bool ok = results[k] && results[k]->status == 200;
        const auto& id = fleet->node_id(i);
        if (ctx.health.record_probe(i, ok, round_trip, util::unix_ms())) {
            const auto state = ctx.health.state(i);
            const std::string name(upstream::to_string(state));
            if (state == upstream::NodeState::healthy) {
                log::info("node is healthy", {{"node", id}});
            } else {
                log::warn("node health changed",
                          {{"node", id},
                           {"state", name},
                           {"error", results[k] ? "status " + std::to_string(results[k]->status)
                                                : results[k].error().message()}});
            }
        }
        ctx.metrics.node_health(id, ctx.health.state(i) == upstream::NodeState::healthy,
                                ok ? round_trip / 1000 : -1);
    }
}

asio::awaitable<void> check_forever(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    for (;;) {
        try {
            co_await check_once(ctx);
        } catch (const std::exception& e) {
            log::error("health check failed", {{"error", e.what()}});
        }
        timer.expires_after(std::chrono::milliseconds(ctx.config.health.interval_ms));
        co_await timer.async_wait(asio::use_awaitable);
    }
}

}  // namespace

asio::awaitable<void> check_health(Context& ctx) { return check_forever(ctx); }

}  // namespace miroir::workers
