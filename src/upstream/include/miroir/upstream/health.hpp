// The health of each node as Miroir sees it: probes of GET /health move a node between
// healthy, suspect and down; reads prefer healthy nodes and skip down ones. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace miroir::upstream {

enum class NodeState { healthy, suspect, down };

std::string_view to_string(NodeState state);

struct HealthOptions {
    std::uint32_t unhealthy_threshold = 3;  // failed probes in a row: down
    std::uint32_t recovery_threshold = 2;   // good probes in a row: a down node is healthy again
};

struct NodeHealth {
    NodeState state = NodeState::healthy;
    std::uint32_t failures = 0;   // failed probes in a row
    std::uint32_t successes = 0;  // good probes in a row
    double probe_ms = 0;          // the last good probe's round trip
    std::int64_t checked_at = 0;  // unix ms of the last probe; 0 before the first
    std::int64_t changed_at = 0;  // unix ms of the last change of state
};

class HealthTable {
  public:
    HealthTable(std::size_t nodes, HealthOptions options);

    NodeHealth get(std::size_t node) const;
    NodeState state(std::size_t node) const { return get(node).state; }
    // Whether reads may go to the node (it is not down).
    bool usable(std::size_t node) const { return state(node) != NodeState::down; }

    // A probe's outcome; returns true when the node's state changed.
    bool record_probe(std::size_t node, bool ok, double round_trip_ms, std::int64_t now_ms);
    // A request the node did not answer: a healthy node becomes suspect until its next good
    // probe. Returns true when the node's state changed.
    bool record_failure(std::size_t node, std::int64_t now_ms);

  private:
    mutable std::mutex mutex_;
    HealthOptions options_;
    std::vector<NodeHealth> nodes_;
};

}  // namespace miroir::upstream
