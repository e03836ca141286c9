// The TTL sweeper: under the `ttl-sweeper` lease, each index whose TTL policy is enabled is
// swept every `sweep_interval_s`. Every node in the fleet is asked for the ids of the documents
// it holds that expired (at most `max_deletes_per_sweep` of them) and deletes them, so every
// copy goes; a node that is down keeps its expired copies, hidden by the read filter, until a
// sweep after it answers again.
#include <chrono>
#include <map>

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

// Deletes from node `slot` the documents of `uid` it holds that expired at `now`, at most
// `most`; how many it was asked to delete.
asio::awaitable<std::uint64_t> sweep_node(Context& ctx, std::size_t slot, const std::string& uid,
                                          const std::string& pk, std::int64_t now,
                                          std::int64_t most) {
    json ask;
    ask["filter"] = routing::expired_filter(now);
    ask["fields"] = json::array({pk});
    ask["limit"] = most;
    unsigned status = 0;
    const auto page = co_await rebalancing::call(
        ctx, slot, node_request(Method::post, index_path(uid) + "/documents/fetch", ask.dump()),
        status);
    if (status != 200 || !page.contains("results")) co_return 0;
    json ids = json::array();
    for (const auto& doc : page["results"]) {
        if (doc.contains(pk)) ids.push_back(doc[pk]);
    }
    if (ids.empty()) co_return 0;
    co_await rebalancing::call(
        ctx, slot,
        node_request(Method::post, index_path(uid) + "/documents/delete-batch", ids.dump()),
        status);
    co_return status == 202 ? ids.size() : 0;
}

// One sweep of `uid` over every usable node; the copies deleted.
asio::awaitable<std::uint64_t> sweep_index(Context& ctx, const Fleet& fleet, const std::string& uid,
                                           const fleet::TtlPolicy& policy) {
    const auto record = co_await ctx.store.index(uid);
    if (!record || !record->primary_key) co_return 0;
    const auto now = util::unix_ms() / 1000;
    std::uint64_t deleted = 0;
    for (auto slot : fleet.members()) {
        if (!ctx.health.usable(slot)) continue;
        try {
            deleted += co_await sweep_node(ctx, slot, uid, *record->primary_key, now,
                                           policy.max_deletes_per_sweep);
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
            const auto deleted = co_await sweep_index(ctx, *fleet, uid, policy);
            ctx.metrics.ttl_swept(uid, deleted);
            if (deleted > 0) {
                log::info("ttl sweep", {{"index", uid}, {"deleted", std::to_string(deleted)}});
            }
        }
    }
}

}  // namespace miroir::workers
