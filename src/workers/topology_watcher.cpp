// The topology watcher: installs the topology other pods stored.
#include <chrono>
#include <stdexcept>

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
#include <miroir/workers/workers.hpp>

namespace miroir::workers {

using namespace miroir::fleet;

namespace asio = boost::asio;

namespace {

asio::awaitable<void> watch_forever(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    for (;;) {
        timer.expires_after(std::chrono::milliseconds(ctx.config.rebalance.topology_poll_ms));
        co_await timer.async_wait(asio::use_awaitable);
        try {
            if (co_await reload_topology(ctx)) {
                log::info("topology changed",
                          {{"version", static_cast<std::int64_t>(ctx.fleet()->version())}});
            }
        } catch (const std::exception& e) {
            log::error("topology reload failed", {{"error", e.what()}});
        }
    }
}

}  // namespace

asio::awaitable<void> watch_topology(Context& ctx) { return watch_forever(ctx); }

}  // namespace miroir::workers
