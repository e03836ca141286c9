// The task poller: advances unfinished tasks from their node tasks and prunes old ones.
#include <algorithm>
#include <chrono>
#include <map>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/http/task_names.hpp>
#include <miroir/log/log.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/settings_sync.hpp>
#include <miroir/scatter/task_state.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/util/time.hpp>
#include <miroir/workers/workers.hpp>

namespace miroir::workers {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace asio = boost::asio;

namespace {

asio::awaitable<void> poll_forever(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    const auto retention = std::chrono::hours(ctx.config.task_store.retention_hours);
    auto last_prune = std::chrono::steady_clock::time_point{};
    for (;;) {
        timer.expires_after(std::chrono::milliseconds(ctx.config.task_store.poll_interval_ms));
        co_await timer.async_wait(asio::use_awaitable);
        try {
            auto pending = co_await ctx.store.unfinished(256);
            if (!pending.empty()) co_await refresh(ctx, pending);
            if (std::chrono::steady_clock::now() - last_prune > std::chrono::minutes(1)) {
                last_prune = std::chrono::steady_clock::now();
                const auto cutoff =
                    scatter::now_ns() -
                    std::chrono::duration_cast<std::chrono::nanoseconds>(retention).count();
                if (const auto pruned = co_await ctx.store.prune(cutoff)) {
                    log::info("pruned finished tasks",
                              {{"count", static_cast<std::int64_t>(pruned)}});
                }
            }
        } catch (const std::exception& e) {
            log::error("task poller failed", {{"error", e.what()}});
        }
    }
}

}  // namespace

asio::awaitable<void> poll_tasks(Context& ctx) { return poll_forever(ctx); }

}  // namespace miroir::workers
