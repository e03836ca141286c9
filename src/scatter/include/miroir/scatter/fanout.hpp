// Fan-out of one client write to many nodes, and the verdict on it: which nodes accepted
// (their node tasks), whether every shard reached quorum in some group, what to answer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/http/message.hpp>
#include <miroir/scatter/hints.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::fleet {
struct Context;
class Fleet;
}  // namespace miroir::fleet

namespace miroir::scatter {

using fleet::Context;
using fleet::Fleet;

struct NodeCall {
    std::size_t node = 0;
    upstream::UpstreamRequest request;
};

struct NodeOutcome {
    std::size_t node = 0;
    upstream::UpstreamResult result;
    std::optional<std::uint64_t> task_uid;  // set when the node enqueued a task (202)
};

// Sends every call at once; results in input order.
boost::asio::awaitable<std::vector<NodeOutcome>> fan_out(Context& ctx, std::vector<NodeCall> calls);

// The same request to every node of the snapshot (every group, removed nodes left out).
std::vector<NodeCall> broadcast(const Fleet& fleet, const upstream::UpstreamRequest& request);

// The first refusal (4xx) among a broadcast's outcomes, else none: a request one node refuses,
// every node refuses.
const upstream::UpstreamResponse* refusal_in(const std::vector<NodeOutcome>& outcomes);

// The ids of the nodes whose outcome is not `ok_status`, comma-separated (X-Miroir-Degraded).
std::string nodes_without(const Fleet& fleet, const std::vector<NodeOutcome>& outcomes,
                          unsigned ok_status);

// What node `node` was sent of a write, as a hint (ids, filter or all, shards, primary key);
// conclude fills in the rest.
using HintOf = std::function<Hint(std::size_t node)>;

// Turns accepted node writes into one Miroir task. `shards` lists the shards the write
// carried (every shard for broadcasts). Answers 202 with the task summary, with
// X-Miroir-Degraded naming the nodes that did not accept and the shards they missed; 503
// miroir_no_quorum when some shard reached the write quorum (`write_quorum`: one owner, a
// majority or all owners of a group) in no group; the nodes' own error when every node refused
// the request. The quorum is judged on `fleet`, the snapshot the write was routed with. With
// `hint_of`, each node that did not take an acknowledged write gets a hint, stored before the
// answer.
boost::asio::awaitable<http::Response> conclude(Context& ctx, const Fleet& fleet, tasks::Task task,
                                                const std::vector<NodeOutcome>& outcomes,
                                                const std::vector<std::uint32_t>& shards,
                                                const HintOf& hint_of = {});

// A task that failed before any node was asked (an invalid id, an unresolvable primary key):
// stored as failed, answered 202 as Meilisearch does.
boost::asio::awaitable<http::Response> fail_at_once(Context& ctx, tasks::Task task,
                                                    std::string code, std::string message);

// The 202 body of a task.
nlohmann::ordered_json summary(const tasks::Task& task);

// Stores a new task (its uid given); a store that cannot be reached is a 503 the client can
// retry.
boost::asio::awaitable<void> record(Context& ctx, tasks::Task& task);

std::int64_t now_ns();

// A new task enqueued now; `details` null for none.
tasks::Task new_task(const std::string& index_uid, std::string type,
                     const nlohmann::ordered_json& details, std::uint32_t copies);
std::vector<std::uint32_t> all_shards(const Fleet& fleet);

// What Miroir knows of an index: its record in the store, else what a node says (an index
// created before Miroir managed it); nullopt when no node has it.
boost::asio::awaitable<std::optional<tasks::IndexRecord>> lookup_index(Context& ctx,
                                                                       const std::string& uid);

// Creates the index on every node, then makes `_miroir_shard` filterable there (the nodes run
// their tasks for one index in order, so documents sent next find both done); the outcomes
// of both. With `every_node`, a node that does not take the creation undoes it on the others
// and throws 503 miroir_no_quorum.
boost::asio::awaitable<std::vector<NodeOutcome>> create_on_nodes(
    Context& ctx, const std::string& uid, const std::optional<std::string>& pk,
    bool every_node = false);

}  // namespace miroir::scatter
