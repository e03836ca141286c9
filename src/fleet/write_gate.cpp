// The write gate: held by document writes, closed by the rebalancer while it copies a shard.
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

bool WriteGate::try_enter() {
    std::lock_guard lock(mutex_);
    if (closers_ != 0) return false;
    ++inside_;
    return true;
}

asio::awaitable<WriteGate::Pass> WriteGate::enter() {
    if (try_enter()) co_return Pass(this);  // the usual case: no timer
    asio::steady_timer timer(co_await asio::this_coro::executor);
    do {
        timer.expires_after(std::chrono::milliseconds(2));
        co_await timer.async_wait(asio::use_awaitable);
    } while (!try_enter());
    co_return Pass(this);
}

asio::awaitable<void> WriteGate::close() {
    {
        std::lock_guard lock(mutex_);
        ++closers_;
    }
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (inside_ == 0) co_return;
        }
        timer.expires_after(std::chrono::milliseconds(1));
        co_await timer.async_wait(asio::use_awaitable);
    }
}

void WriteGate::open() {
    std::lock_guard lock(mutex_);
    if (closers_) --closers_;
}

void WriteGate::follow(bool closed) {
    std::lock_guard lock(mutex_);
    if (closed && !following_closed_) {
        following_closed_ = true;
        ++closers_;
    } else if (!closed && following_closed_) {
        following_closed_ = false;
        if (closers_) --closers_;
    }
}

bool WriteGate::drained() {
    std::lock_guard lock(mutex_);
    return inside_ == 0;
}

void WriteGate::leave() {
    std::lock_guard lock(mutex_);
    --inside_;
}

}  // namespace miroir::fleet
