// The supervisor of the background jobs: starts each on the main io_context, logs any
// exception that ends a run with the job's name and starts the job again after a backoff
// (counted in miroir_worker_restarts_total{worker}), and on shutdown cancels every job and
// waits for each to end before the io_contexts stop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

namespace miroir::fleet {
struct Context;
}  // namespace miroir::fleet
namespace miroir::metrics {
class Metrics;
}  // namespace miroir::metrics

namespace miroir::workers {

// A background job: `run` starts one run of it, a coroutine that lasts until it is cancelled
// (`run` itself is a plain call returning the coroutine, never a coroutine lambda).
struct Job {
    std::string name;
    std::function<boost::asio::awaitable<void>()> run;
};

// Every job Miroir runs (workers.hpp) over `ctx`, in the order they start.
std::vector<Job> all_jobs(fleet::Context& ctx);

class Supervisor {
  public:
    Supervisor(boost::asio::any_io_executor executor, metrics::Metrics& metrics);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Starts each job on the context's executor.
    void start(const std::vector<Job>& jobs);
    // Cancels every job; `stopped` runs on the executor once each has ended (at once when none
    // runs).
    void stop(std::function<void()> stopped);
    // Each job: its name, state (running, restarting, stopped), runs started again, and the
    // last error, as GET /_miroir/workers shows them.
    nlohmann::ordered_json state() const;

  private:
    struct Entry;
    boost::asio::awaitable<void> supervise(Entry& entry);
    void ended(Entry& entry);

    boost::asio::any_io_executor executor_;
    metrics::Metrics& metrics_;
    std::vector<std::unique_ptr<Entry>> entries_;
    mutable std::mutex mutex_;
    std::size_t running_ = 0;
    bool stopping_ = false;
    std::function<void()> stopped_;
};

}  // namespace miroir::workers
