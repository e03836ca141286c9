// Context: what route handlers may use — the configuration, the metrics, the nodes, their
// replica groups and health, and the task store.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <miroir/http/message.hpp>

namespace miroir::config {
struct Config;
}
namespace miroir::metrics {
class Metrics;
}
namespace miroir::upstream {
class NodeClient;
class HealthTable;
class NodeObservations;
class HedgeBudget;
}  // namespace miroir::upstream
namespace miroir::tasks {
class Store;
struct Task;
}  // namespace miroir::tasks

namespace miroir::fleet {

class Fleet;
class FleetHolder;
struct NodeEntry;
struct Topology;
class KeyRing;
class WriteGate;
class SettingsVersions;

// One topology snapshot, as a request holds it from start to end.
using Snapshot = std::shared_ptr<const Fleet>;

// One client per node slot. Slots are only ever added; a client's address never changes, so
// readers index it without a lock (the storage is reserved once, up to kMaxNodes).
class NodeClients {
  public:
    static constexpr std::size_t kMaxNodes = 256;
    using Factory = std::function<std::unique_ptr<upstream::NodeClient>(const NodeEntry&)>;
    explicit NodeClients(Factory factory);
    ~NodeClients();
    upstream::NodeClient* operator[](std::size_t slot) const { return slots_[slot].get(); }
    std::size_t size() const { return size_.load(std::memory_order_acquire); }
    // Makes the clients of the topology's slots that have none yet. Throws
    // std::length_error past kMaxNodes.
    void ensure(const Topology& topology);

  private:
    Factory factory_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<upstream::NodeClient>> slots_;
    std::atomic<std::size_t> size_{0};
};

struct Context {
    boost::asio::any_io_executor executor;  // the main io_context: background work
    const config::Config& config;
    metrics::Metrics& metrics;
    // One client per node slot of the topology.
    NodeClients& nodes;
    // The current topology snapshot.
    FleetHolder& fleets;
    tasks::Store& store;
    // Each node's state (healthy, suspect, down), kept by the health checker.
    upstream::HealthTable& health;
    // What reads observe of each node (adaptive replica selection, hedging delays), and the
    // budget that bounds hedged reads.
    upstream::NodeObservations& observed;
    upstream::HedgeBudget& hedge_budget;
    // The API keys requests may come with.
    KeyRing& keys;
    // Each index's committed settings version and the versions verified on the nodes.
    SettingsVersions& settings;
    // Held by every document write while it reaches the nodes; closed by the rebalancer while
    // it copies a shard.
    WriteGate& writes;
    // Held by every read of an index being resharded (and every multi-search meanwhile) while
    // it reaches the nodes; closed with the write gate while a reshard switches the index's
    // copies.
    WriteGate& reshard_reads;
    // Called with each Miroir task once it is stored finished (its webhooks are called); set
    // by the application.
    std::function<void(const tasks::Task&)> task_finished = {};
    // Serves a request as a client's, in process, with the master (or admin) key: background
    // jobs that compose the public API (index lifecycle). Set by the application.
    std::function<boost::asio::awaitable<http::Response>(http::Request)> loopback = {};

    // The current topology: take it once per request and use that snapshot to the end.
    std::shared_ptr<const Fleet> fleet() const;
    // The current topology as index `uid` is routed (Fleet::for_index), one snapshot likewise.
    std::shared_ptr<const Fleet> fleet_of(std::string_view uid) const;
};

}  // namespace miroir::fleet
