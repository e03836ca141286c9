#include <algorithm>
#include <chrono>
#include <exception>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/util/time.hpp>
#include <miroir/workers/dump_import.hpp>
#include <miroir/workers/reshard.hpp>
#include <miroir/workers/supervisor.hpp>
#include <miroir/workers/workers.hpp>

namespace miroir::workers {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

// The pause before a failed job runs again: 100 ms, doubling with each failure in a row, at
// most 30 s; a run that lasted a minute resets the count.
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{30000};
constexpr std::chrono::seconds kHealthyRun{60};

}  // namespace

std::vector<Job> all_jobs(fleet::Context& ctx) {
    using Run = asio::awaitable<void> (*)(fleet::Context&);
    const std::pair<const char*, Run> jobs[] = {{"topology-watcher", &watch_topology},
                                                {"write-gate", &follow_shared_gate},
                                                {"rebalancer", &drive_rebalances},
                                                {"task-poller", &poll_tasks},
                                                {"health", &check_health},
                                                {"settings-drift", &check_settings_drift},
                                                {"hint-replay", &replay_hints},
                                                {"anti-entropy", &run_anti_entropy},
                                                {"ttl-sweeper", &sweep_expired},
                                                {"ilm", &run_ilm},
                                                {"dump-import", &run_dump_imports},
                                                {"reshard", &run_reshards}};
    std::vector<Job> out;
    for (const auto& [name, run] : jobs) out.push_back({name, [&ctx, run] { return run(ctx); }});
    return out;
}

struct Supervisor::Entry {
    Job job;
    asio::cancellation_signal cancel;
    std::string state = "running";
    std::uint64_t restarts = 0;
    std::string last_error;
    std::int64_t last_error_at = 0;  // unix ms
};

Supervisor::Supervisor(asio::any_io_executor executor, metrics::Metrics& metrics)
    : executor_(std::move(executor)), metrics_(metrics) {}

Supervisor::~Supervisor() = default;

void Supervisor::start(const std::vector<Job>& jobs) {
    for (const auto& job : jobs) {
        auto entry = std::make_unique<Entry>();
        entry->job = job;
        auto& e = *entry;
        {
            std::lock_guard lock(mutex_);
            entries_.push_back(std::move(entry));
            ++running_;
        }
        asio::co_spawn(executor_, supervise(e),
                       asio::bind_cancellation_slot(
                           e.cancel.slot(), [this, &e](const std::exception_ptr&) { ended(e); }));
    }
}

asio::awaitable<void> Supervisor::supervise(Entry& e) {
    std::uint32_t failures = 0;
    for (;;) {
        const auto began = std::chrono::steady_clock::now();
        std::string error;
        try {
            co_await e.job.run();
            error = "the job returned";
        } catch (const std::exception& ex) {
            error = ex.what();
        }
        {
            std::lock_guard lock(mutex_);
            if (stopping_) co_return;  // cancelled: the end of the job, not a failure
            e.state = "restarting";
            ++e.restarts;
            e.last_error = error;
            e.last_error_at = util::unix_ms();
        }
        if (std::chrono::steady_clock::now() - began > kHealthyRun) failures = 0;
        const auto backoff = std::min<std::chrono::milliseconds>(
            kMaxBackoff, kFirstBackoff * (1u << std::min<std::uint32_t>(failures++, 9)));
        log::error("worker failed, starting it again",
                   {{"worker", e.job.name},
                    {"error", error},
                    {"restart_in_ms", static_cast<std::int64_t>(backoff.count())}});
        metrics_.worker_restart(e.job.name);
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(backoff);
        co_await timer.async_wait(asio::use_awaitable);  // cancelled: the coroutine ends here
        std::lock_guard lock(mutex_);
        e.state = "running";
    }
}

void Supervisor::ended(Entry& e) {
    std::function<void()> stopped;
    {
        std::lock_guard lock(mutex_);
        e.state = "stopped";
        if (--running_ == 0 && stopping_) stopped = std::move(stopped_);
    }
    if (stopped) stopped();
}

void Supervisor::stop(std::function<void()> stopped) {
    std::vector<Entry*> running;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        if (running_ == 0) {
            asio::post(executor_, std::move(stopped));
            return;
        }
        stopped_ = std::move(stopped);
        for (auto& e : entries_) {
            if (e->state != "stopped") running.push_back(e.get());
        }
    }
    // on the executor: a cancellation signal is not thread-safe, the jobs run there
    asio::post(executor_, [running] {
        for (auto* e : running) e->cancel.emit(asio::cancellation_type::terminal);
    });
}

json Supervisor::state() const {
    std::lock_guard lock(mutex_);
    json out = json::array();
    for (const auto& e : entries_) {
        json j;
        j["name"] = e->job.name;
        j["state"] = e->state;
        j["restarts"] = e->restarts;
        j["lastError"] = e->last_error.empty() ? json(nullptr) : json(e->last_error);
        j["lastErrorAt"] = e->last_error_at ? json(e->last_error_at) : json(nullptr);
        out.push_back(std::move(j));
    }
    return out;
}

}  // namespace miroir::workers
