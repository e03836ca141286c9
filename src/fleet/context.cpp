// The node clients of the topology's slots, and the current snapshot.
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

NodeClients::NodeClients(Factory factory) : factory_(std::move(factory)) {
    slots_.reserve(kMaxNodes);  // never reallocated: readers index it without the lock
}

NodeClients::~NodeClients() = default;

void NodeClients::ensure(const Topology& topology) {
    std::lock_guard lock(mutex_);
    if (topology.nodes.size() > kMaxNodes) {
        throw std::length_error("a topology holds at most " + std::to_string(kMaxNodes) + " nodes");
    }
    while (slots_.size() < topology.nodes.size()) {
        slots_.push_back(factory_(topology.nodes[slots_.size()]));
    }
    size_.store(slots_.size(), std::memory_order_release);
}

std::shared_ptr<const Fleet> Context::fleet() const { return fleets.get(); }

std::shared_ptr<const Fleet> Context::fleet_of(std::string_view uid) const {
    auto fleet = fleets.get();
    const auto& routed = fleet->for_index(uid);
    return std::shared_ptr<const Fleet>(std::move(fleet), &routed);  // kept alive by its parent
}

}  // namespace miroir::fleet
