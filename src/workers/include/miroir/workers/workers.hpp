// The background jobs. Each runs on the main io_context until it is cancelled, started and
// watched by the Supervisor (supervisor.hpp): an exception ends one run, which is started again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace miroir::fleet {
struct Context;
class Fleet;
struct IlmPolicy;
struct Topology;
}  // namespace miroir::fleet
namespace miroir::tasks {
struct Task;
}

namespace miroir::workers {

using fleet::Context;
using fleet::Fleet;

// health: probes every node's /health and keeps Context::health current.
boost::asio::awaitable<void> check_health(Context& ctx);

// settings-drift: compares every node's settings with each index's committed settings and
// repairs the nodes that drifted (two-phase settings).
boost::asio::awaitable<void> check_settings_drift(Context& ctx);

// hint-replay: makes what nodes missed of acknowledged writes (their hints) on them once they
// answer again, as the owners that took those writes hold it.
boost::asio::awaitable<void> replay_hints(Context& ctx);

// anti-entropy: under the `anti-entropy` lease, compares the replicas of every shard of every
// index by bucket digests every anti_entropy.interval_s, and on request, and repairs what
// differs (docs/operations.md, "Anti-entropy").
boost::asio::awaitable<void> run_anti_entropy(Context& ctx);
// Asks for a pass over index `uid` (every index when empty) as soon as the driving pod can;
// the time asked, in ms since the epoch.
boost::asio::awaitable<std::int64_t> request_anti_entropy(Context& ctx, const std::string& uid);
// GET /_miroir/anti-entropy/status: per index, the pass running and the last one (JSON text).
boost::asio::awaitable<std::string> anti_entropy_status(Context& ctx);

// ttl-sweeper: under the `ttl-sweeper` lease, deletes from every node the documents of each
// index with an enabled TTL policy that expired, every sweep_interval_s, in bounded batches.
boost::asio::awaitable<void> sweep_expired(Context& ctx);

// ilm: under the `ilm` lease, checks each rolling index family every check_interval_s and rolls
// it over when its newest index passed a threshold; keeps its aliases and retention as its
// policy says (docs/operations.md, "Rolling indexes").
boost::asio::awaitable<void> run_ilm(Context& ctx);
// Rolls family `name` over now: a new index (the pattern's next generation) with the newest
// one's settings, the write alias flipped to it, the read alias over the newest `retain`, the
// older indexes deleted; `from`: only if the family is still at that generation. The policy
// after it; throws the client's error.
boost::asio::awaitable<fleet::IlmPolicy> roll_over(Context& ctx, const std::string& name,
                                                   std::optional<std::uint64_t> from = {});

// task-poller: advances unfinished tasks from their node tasks and prunes old ones.
boost::asio::awaitable<void> poll_tasks(Context& ctx);

// topology-watcher: reloads the topology from the store every rebalance.topology_poll_ms.
boost::asio::awaitable<void> watch_topology(Context& ctx);

// write-gate: this pod's write gate as the shared one (in the task store) says.
boost::asio::awaitable<void> follow_shared_gate(Context& ctx);

// rebalancer: drives a rebalance in progress when this pod holds the rebalance lease.
boost::asio::awaitable<void> drive_rebalances(Context& ctx);

// Starts the rebalance of the first group whose nodes differ from its target (joining or
// draining nodes); false when every group is balanced. Throws 409 while one is running, or
// while a reshard fills a shadow.
boost::asio::awaitable<bool> start_rebalance(Context& ctx);

// Throws 409 miroir_reshard_in_progress while a reshard fills a shadow: its places are the
// reshard's alone, so the nodes change (and a rebalance starts) once it has switched.
void refuse_while_filling(const fleet::Topology& t);

// One step of the write-gate job: called once before serving, so that a pod starting during a
// copy holds its writes from the first one.
boost::asio::awaitable<void> follow_write_gate(Context& ctx);

// The task store's table of webhooks: uuid → {"url", "headers"} (meili/webhooks.cpp).
inline constexpr const char* kWebhookTable = "webhooks";

// Sends a finished task to every webhook, in the background, as Meilisearch sends a finished
// batch: a gzip'd NDJSON POST of the task. One pod sends it (a claim in the task store).
void notify_webhooks(Context& ctx, const tasks::Task& task);

// The rebalance status, as GET /_miroir/rebalance/status shows it (JSON text).
std::string rebalance_status(const Fleet& fleet);

}  // namespace miroir::workers
