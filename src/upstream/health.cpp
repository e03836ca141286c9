#include <miroir/upstream/health.hpp>

namespace miroir::upstream {

std::string_view to_string(NodeState state) {
    switch (state) {
        case NodeState::healthy:
            return "healthy";
        case NodeState::suspect:
            return "suspect";
        case NodeState::down:
            return "down";
    }
    return "unknown";
}

HealthTable::HealthTable(std::size_t nodes, HealthOptions options)
    : options_(options), nodes_(nodes) {}

NodeHealth HealthTable::get(std::size_t node) const {
    std::lock_guard lock(mutex_);
    return nodes_.at(node);
}

bool HealthTable::record_probe(std::size_t node, bool ok, double round_trip_ms,
                               std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    auto& n = nodes_.at(node);
    const auto before = n.state;
    n.checked_at = now_ms;
    if (ok) {
        n.failures = 0;
        ++n.successes;
        n.probe_ms = round_trip_ms;
        if (n.state == NodeState::suspect ||
            (n.state == NodeState::down && n.successes >= options_.recovery_threshold)) {
            n.state = NodeState::healthy;
        }
    } else {
        n.successes = 0;
        ++n.failures;
        if (n.failures >= options_.unhealthy_threshold) {
            n.state = NodeState::down;
        } else if (n.state == NodeState::healthy) {
            n.state = NodeState::suspect;
        }
    }
    if (n.state != before) n.changed_at = now_ms;
    return n.state != before;
}

bool HealthTable::record_failure(std::size_t node, std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    auto& n = nodes_.at(node);
    if (n.state != NodeState::healthy) return false;
    n.state = NodeState::suspect;
    n.successes = 0;
    n.changed_at = now_ms;
    return true;
}

}  // namespace miroir::upstream
