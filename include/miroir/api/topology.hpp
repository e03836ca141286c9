// The topology's life: loaded from the task store (seeded from the configuration on the first
// start), changed through the admin API as compare-and-set versions, reloaded by every pod,
// and the rebalancer that carries out a change of a group's nodes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <miroir/api/fleet.hpp>

namespace miroir::api {

struct Context;

// Loads the stored topology, or stores the configuration's as the first one; installs it.
boost::asio::awaitable<void> load_topology(Context& ctx);

// Installs `topology` as the current snapshot when it is newer than the current one (node
// clients are made for new slots first).
void install_topology(Context& ctx, Topology topology);

// Applies `change` to the current topology and stores the result as the next version,
// retrying on a concurrent change from another pod; installs it and returns it. `change` may
// throw (an http::ApiError is the client's answer); nothing is stored then.
boost::asio::awaitable<std::shared_ptr<const Fleet>> change_topology(
    Context& ctx, std::function<void(Topology&)> change);

// Reloads the topology from the store every rebalance.topology_poll_ms.
void start_topology_watcher(Context& ctx);

// Starts the rebalance of the first group whose nodes differ from its target (joining or
// draining nodes); false when every group is balanced. Throws 409 while one is running.
boost::asio::awaitable<bool> start_rebalance(Context& ctx);

// This pod's write gate as the shared one (in the task store) says: called once before
// serving, then kept up by start_rebalancer.
boost::asio::awaitable<void> follow_write_gate(Context& ctx);

// Drives a rebalance in progress when this pod holds the rebalance lease, and follows the
// shared write gate.
void start_rebalancer(Context& ctx);

// The rebalance status, as GET /_miroir/rebalance/status shows it (JSON text).
std::string rebalance_status(const Fleet& fleet);

}  // namespace miroir::api
