// The rebalancer's parts, shared by its files: the shared write gate and the rebalance lease
// (shared_gate.cpp), its requests to nodes and the indexes it moves (rebalance_nodes.cpp), the
// copy of the moving shards (rebalance_copy.cpp), and the driver that takes a rebalance through
// its phases (rebalance.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/fleet.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::fleet {
struct Context;
}  // namespace miroir::fleet

namespace miroir::workers::rebalancing {

using fleet::Context;
using fleet::Fleet;
using fleet::Rebalance;

// The rebalance was replaced or this pod lost its lease: stop without marking it failed.
struct Superseded : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The name of the lease the driving pod holds in the task store.
inline const std::string kLease = "rebalance";

struct GateState {
    std::uint64_t epoch = 0;
    bool closed = false;
    std::int64_t until = 0;
    std::uint64_t version = 0;
    bool reads = false;  // the reads of indexes being resharded are held too
    bool holds(std::int64_t now) const { return closed && now < until; }
};

// This pod's name for the rebalance lease.
const std::string& pod_name();
boost::asio::awaitable<void> sleep_ms(std::uint32_t ms);

// Closes every pod's write gate (and, with `reads`, the reads of indexes being resharded);
// returns once each live pod acknowledged it. Only the holder of the rebalance lease closes it
// (`holder`: the rebalancer of this pod, its anti-entropy, or a reshard).
boost::asio::awaitable<GateState> fence(Context& ctx, const std::string& holder = pod_name(),
                                        bool reads = false);
boost::asio::awaitable<void> unfence(Context& ctx, const GateState& gate);
// One step, and the loop, of this pod's gate follower.
boost::asio::awaitable<void> follow_gate(Context& ctx);
boost::asio::awaitable<void> follow_gate_forever(Context& ctx);
// Renews this pod's lease; Superseded when another pod holds it.
boost::asio::awaitable<void> keep_lease(Context& ctx, const std::string& holder = pod_name());
// Renews the lease during a long wait, at most every quarter of it: a driver that waits on
// nodes or pods keeps its lease, so that no other pod starts driving the same rebalance.
class LeaseKeeper {
  public:
    explicit LeaseKeeper(Context& ctx, std::string holder = pod_name());
    boost::asio::awaitable<void> tick();

  private:
    Context& ctx_;
    std::string holder_;
    std::chrono::steady_clock::time_point renewed_;
};
// Keeps the gate closed during a long copy; `expired` once its deadline passed.
boost::asio::awaitable<void> extend_gate(Context& ctx, GateState& gate, bool& expired);

// An index to move: its uid and primary key, and the node its settings come from.
struct IndexToMove {
    std::string uid;
    std::optional<std::string> primary_key;
    nlohmann::ordered_json settings;
};

// Node tasks to wait for: (node slot, task uid).
using NodeTasks = std::vector<std::pair<std::size_t, std::uint64_t>>;
// A request that must be enqueued (202); its node task uid, or an exception naming the node.
boost::asio::awaitable<std::uint64_t> enqueue(Context& ctx, std::size_t slot,
                                              upstream::UpstreamRequest request);

// One request to one node; the answer's JSON body (its status in `status`), or an exception
// naming the node when it did not answer.
boost::asio::awaitable<nlohmann::ordered_json> call(Context& ctx, std::size_t slot,
                                                    upstream::UpstreamRequest request,
                                                    unsigned& status);
// The newest task of index `uid` that `slot` has not applied yet, if any.
boost::asio::awaitable<std::optional<std::uint64_t>> pending_task(Context& ctx, std::size_t slot,
                                                                  const std::string& uid);

std::vector<std::size_t> slots_of(const Fleet& fleet, const std::vector<std::string>& ids);
// The indexes of the fleet, with their primary keys and settings.
boost::asio::awaitable<std::vector<IndexToMove>> indexes_to_move(Context& ctx, const Fleet& fleet,
                                                                 const Rebalance& r);
// Creates each index on the nodes that gain shards.
boost::asio::awaitable<void> prepare(Context& ctx, const std::vector<std::size_t>& gaining,
                                     const std::vector<IndexToMove>& indexes);
// Copies every moving shard not copied yet to its new owners.
boost::asio::awaitable<void> copy_all(Context& ctx, Rebalance r);
// Deletes the moved shards from the nodes that lost them.
boost::asio::awaitable<void> clean(Context& ctx, const Rebalance& r);

inline const std::string kAnyPhase = "*";
// Applies `change` to the rebalance `id` in the stored topology while it is in `phase` and
// this pod holds the lease; Superseded when it is gone, moved on, or driven by another pod.
boost::asio::awaitable<std::shared_ptr<const Fleet>> advance(
    Context& ctx, std::uint64_t id, std::string phase, std::function<void(Rebalance&)> change);
void report(Context& ctx, const Rebalance& r, bool running);

}  // namespace miroir::workers::rebalancing
