// The supervisor of the background jobs: a failing job is started again with its restarts
// counted, and stop() cancels every job and waits for each.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <miroir/metrics/metrics.hpp>
#include <miroir/workers/supervisor.hpp>

namespace miroir::workers {
namespace {

namespace asio = boost::asio;

int flaky_runs = 0;

asio::awaitable<void> wait_an_hour() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(std::chrono::hours(1));
    co_await timer.async_wait(asio::use_awaitable);
}

// Fails on its first two runs, then runs until cancelled.
asio::awaitable<void> flaky() {
    ++flaky_runs;
    if (flaky_runs <= 2) throw std::runtime_error("run " + std::to_string(flaky_runs) + " failed");
    co_await wait_an_hour();
}

TEST(Supervisor, StartsAFailedJobAgainAndStopsEveryJob) {
    asio::io_context io;
    metrics::Metrics metrics;
    Supervisor supervisor(io.get_executor(), metrics);
    supervisor.start({{"flaky", &flaky}, {"steady", &wait_an_hour}});
    while (flaky_runs < 3) io.run_one();  // two backoffs: 100 ms, then 200 ms
    auto state = supervisor.state();
    ASSERT_EQ(state.size(), 2u);
    EXPECT_EQ(state[0]["name"], "flaky");
    EXPECT_EQ(state[0]["state"], "running");
    EXPECT_EQ(state[0]["restarts"], 2);
    EXPECT_EQ(state[0]["lastError"], "run 2 failed");
    EXPECT_EQ(state[1]["name"], "steady");
    EXPECT_EQ(state[1]["restarts"], 0);
    EXPECT_TRUE(state[1]["lastError"].is_null());
    EXPECT_NE(metrics.serialize().find("miroir_worker_restarts_total{worker=\"flaky\"} 2"),
              std::string::npos)
        << metrics.serialize();

    bool stopped = false;
    supervisor.stop([&stopped] { stopped = true; });
    // every job's pending wait is cancelled: the context runs out of work
    io.run_for(std::chrono::seconds(10));
    EXPECT_TRUE(stopped);
    for (const auto& job : supervisor.state()) {
        EXPECT_EQ(job["state"], "stopped") << job.dump();
    }
    EXPECT_EQ(supervisor.state()[0]["restarts"], 2);  // a cancelled job is not restarted
}

TEST(Supervisor, StopWithNothingRunningCallsBackAtOnce) {
    asio::io_context io;
    metrics::Metrics metrics;
    Supervisor supervisor(io.get_executor(), metrics);
    bool stopped = false;
    supervisor.stop([&stopped] { stopped = true; });
    io.run_for(std::chrono::seconds(1));
    EXPECT_TRUE(stopped);
}

}  // namespace
}  // namespace miroir::workers
