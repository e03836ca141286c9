// Context: what route handlers may use — the configuration, the metrics, the nodes, their
// replica groups and health, and the task store.
#pragma once

#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

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
}

namespace miroir::api {

class Fleet;
class KeyRing;
class SettingsVersions;

struct Context {
    boost::asio::any_io_executor executor;  // the main io_context: background work
    const config::Config& config;
    metrics::Metrics& metrics;
    // One client per configured node, in configuration order.
    std::vector<std::unique_ptr<upstream::NodeClient>>& nodes;
    const Fleet& fleet;
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
};

}  // namespace miroir::api
