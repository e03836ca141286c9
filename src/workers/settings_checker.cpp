// The settings drift checker: compares every node's settings with each index's committed
// settings and repairs the nodes that drifted (two-phase settings, scatter/settings_sync.cpp).
#include <chrono>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/log/log.hpp>
#include <miroir/scatter/settings_sync.hpp>
#include <miroir/workers/workers.hpp>

namespace miroir::workers {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace asio = boost::asio;

namespace {

asio::awaitable<void> check_forever(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    bool first = true;
    for (;;) {
        if (!first) {
            timer.expires_after(
                std::chrono::milliseconds(ctx.config.settings.drift_check_interval_ms));
            co_await timer.async_wait(asio::use_awaitable);
        }
        try {
            co_await check_settings(ctx, first);
        } catch (const std::exception& e) {
            log::error("settings drift check failed", {{"error", e.what()}});
        }
        first = false;
    }
}

}  // namespace

asio::awaitable<void> check_settings_drift(Context& ctx) { return check_forever(ctx); }

}  // namespace miroir::workers
