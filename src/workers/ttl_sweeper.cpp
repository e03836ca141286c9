// The TTL sweeper: under the `ttl-sweeper` lease, each index whose TTL policy is enabled is
// swept every `sweep_interval_s`. Every node in the fleet deletes the documents it holds that
// expired (about `max_deletes_per_sweep` of them, whole shards at a time), so every copy goes;
// a node that is down keeps its expired copies, hidden by the read filter, until a sweep after
// it answers again.
#include <chrono>
#include <map>
#include <optional>
#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/util/time.hpp>
#include <miroir/workers/workers.hpp>

#include "rebalance.hpp"

namespace miroir::workers {

namespace {

using scatter::index_path;
using scatter::node_request;
namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

constexpr const char* kLeaseName = "ttl-sweeper";
constexpr std::int64_t kLeaseMs = 10000;
constexpr std::int64_t kTickMs = 1000;

// Deletes from node `slot` the documents of `uid` it holds that expired at `now`: the node
// counts them per shard, and whole shards' worth, about `most` documents (at least one shard),
// are deleted by filter, which the node evaluates when it runs the deletion (a document written
// again meanwhile, with a later expiry, stays). A node still running the deletion of an earlier
// sweep (`pending`, its task uid) is left alone: it would count those documents again. How many
// expired copies it was asked to delete.
asio::awaitable<std::uint64_t> sweep_node(Context& ctx, std::size_t slot, const std::string& uid,
                                          std::int64_t now, std::int64_t most,
                                          std::optional<std::uint64_t>& pending) {
    unsigned status = 0;
    if (pending) {
        const auto task = co_await rebalancing::call(
            ctx, slot, node_request(Method::get, "/tasks/" + std::to_string(*pending)), status);
        const auto state = task.value("status", std::string());
        if (status == 200 && state != "succeeded" && state != "failed" && state != "canceled") {
            co_return 0;
        }
        pending.reset();
    }
    const auto expired = routing::expired_filter(now);
    json count;
    count["q"] = "";
    count["limit"] = 0;
    count["filter"] = expired;
    count["facets"] = json::array({routing::kShardField});
    const auto answer = co_await rebalancing::call(
        ctx, slot, node_request(Method::post, index_path(uid) + "/search", count.dump()), status);
    if (status != 200) co_return 0;
    std::map<std::uint32_t, std::uint64_t> per_shard;
    const auto facets = answer.value("facetDistribution", json::object());
    const auto counts = facets.value(routing::kShardField, json::object());
    for (const auto& [value, n] : counts.items()) {
        const auto shard = routing::shard_of_value(value);
        if (shard && n.is_number_unsigned()) per_shard[*shard] += n.get<std::uint64_t>();
    }
    std::vector<std::uint32_t> shards;
    std::uint64_t documents = 0;
    for (const auto& [shard, n] : per_shard) {
        if (!shards.empty() && documents + n > static_cast<std::uint64_t>(most)) break;
        shards.push_back(shard);
        documents += n;
    }
    if (shards.empty()) co_return 0;
    json remove;
    remove["filter"] = json::array({expired, routing::shard_filter(shards)});
    const auto task = co_await rebalancing::call(
        ctx, slot, node_request(Method::post, index_path(uid) + "/documents/delete", remove.dump()),
        status);
    if (status != 202) co_return 0;
    if (task.value("taskUid", json()).is_number_unsigned())
        pending = task["taskUid"].get<std::uint64_t>();
    co_return documents;
}

// Per index and node slot, the node's deletion of the last sweep.
using Pending = std::map<std::pair<std::string, std::size_t>, std::optional<std::uint64_t>>;

// One sweep of `uid` over every usable node; the copies deleted.
asio::awaitable<std::uint64_t> sweep_index(Context& ctx, const Fleet& fleet, const std::string& uid,
                                           const fleet::TtlPolicy& policy, Pending& pending) {
    const auto now = util::unix_ms() / 1000;
    std::uint64_t deleted = 0;
    for (auto slot : fleet.members()) {
        if (!ctx.health.usable(slot)) continue;
        try {
            auto& running = pending[{uid, slot}];
            deleted +=
                co_await sweep_node(ctx, slot, uid, now, policy.max_deletes_per_sweep, running);
        } catch (const std::exception& e) {
            log::warn("ttl sweep of a node failed", {{"index", uid}, {"error", e.what()}});
        }
    }
    co_return deleted;
}

}  // namespace

asio::awaitable<void> sweep_expired(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    std::map<std::string, std::int64_t> last;  // index → its last sweep, ms since the epoch
    Pending pending;
    for (;;) {
        timer.expires_after(std::chrono::milliseconds(kTickMs));
        co_await timer.async_wait(asio::use_awaitable);
        const auto fleet = ctx.fleet();
        if (fleet->topology().ttl.empty()) continue;
        const bool held = co_await ctx.store.lease(kLeaseName, rebalancing::pod_name(), kLeaseMs);
        if (!held) continue;
        for (const auto& [uid, policy] : fleet->topology().ttl) {
            if (!fleet->topology().ttl_of(uid)) continue;
            // from the last sweep, so that a new interval counts at once
            const auto now = util::unix_ms();
            auto& at = last[uid];
            if (now < at + policy.sweep_interval_s * 1000) continue;
            at = now;
            const auto deleted = co_await sweep_index(ctx, *fleet, uid, policy, pending);
            ctx.metrics.ttl_swept(uid, deleted);
            if (deleted > 0) {
                log::info("ttl sweep", {{"index", uid}, {"deleted", std::to_string(deleted)}});
            }
        }
    }
}

}  // namespace miroir::workers
