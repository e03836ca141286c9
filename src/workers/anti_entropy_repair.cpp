// Anti-entropy's repair: the documents whose bucket digests differed are read again on every
// node under the closed write gate, once each node applied the index's tasks it was given, so
// that no write lands between that read and the repair's writes; each document is then made on
// its owners as the verdict says (entropy/digest.hpp). The rebalance lease is held meanwhile
// (no rebalance moves shards during a repair, and no rebalance gate is closed twice).
#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/entropy/digest.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/http/params.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/util/time.hpp>

#include "anti_entropy.hpp"
#include "rebalance.hpp"

namespace miroir::workers::anti_entropy {

using namespace miroir::fleet;
using namespace miroir::workers::rebalancing;
using miroir::scatter::index_path;
using miroir::scatter::node_request;
namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kFetchIds = 1000;  // ids read from a node per request

using Documents = std::map<std::string, json>;  // canonical id → document

// Waits until `slot` applied every task of index `uid` it was given, keeping `gate` closed.
asio::awaitable<void> wait_applied(Context& ctx, const std::string& holder, std::size_t slot,
                                   const std::string& uid, GateState& gate, bool& expired) {
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(ctx.config.rebalance.task_timeout_ms);
    LeaseKeeper lease(ctx, holder);
    for (std::uint32_t delay = 1;; delay = std::min<std::uint32_t>(delay * 2, 50)) {
        co_await lease.tick();
        co_await extend_gate(ctx, gate, expired);
        if (!co_await pending_task(ctx, slot, uid)) co_return;
        if (Clock::now() > deadline) {
            throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) + "` kept tasks of `" +
                                     uid + "` pending");
        }
        co_await sleep_ms(delay);
    }
}

// The documents of `ids` node `slot` holds, by canonical id.
asio::awaitable<Documents> fetch_ids(Context& ctx, std::size_t slot, const std::string& uid,
                                     const std::string& pk, const std::vector<std::string>& ids,
                                     Counts& counts) {
    Documents out;
    for (std::size_t at = 0; at < ids.size(); at += kFetchIds) {
        const auto end = std::min(ids.size(), at + kFetchIds);
        json fetch;
        fetch["ids"] = std::vector<std::string>(ids.begin() + at, ids.begin() + end);
        fetch["limit"] = end - at;
        fetch["retrieveVectors"] = true;
        unsigned status = 0;
        const auto page = co_await call(
            ctx, slot,
            node_request(Method::post, index_path(uid) + "/documents/fetch", fetch.dump()), status);
        if (status == 404) co_return out;  // the node lacks the index: it holds none of them
        if (status != 200 || !page.is_object()) {
            throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) +
                                     "` did not give documents of `" + uid + "` (" +
                                     std::to_string(status) + ")");
        }
        for (const auto& doc : page.value("results", json::array())) {
            const auto id = canonical_id(doc.value(pk, json()));
            if (!id.empty()) out[id] = doc;
        }
        counts.documents_fetched += page.value("results", json::array()).size();
    }
    co_return out;
}

// Enqueues one repair request on node `slot`; its node task goes to `tasks`.
asio::awaitable<void> enqueue(Context& ctx, std::size_t slot, const std::string& uid,
                              std::string target, std::string body,
                              std::vector<std::pair<std::size_t, std::uint64_t>>& tasks) {
    unsigned status = 0;
    const auto answer = co_await call(
        ctx, slot, node_request(Method::post, std::move(target), std::move(body)), status);
    if (status != 202 || !answer.contains("taskUid")) {
        throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) + "` refused a repair of `" +
                                 uid + "` (" + std::to_string(status) + "): " + answer.dump());
    }
    tasks.emplace_back(slot, answer["taskUid"].get<std::uint64_t>());
}

// Enqueues one node's repair: the documents to write, then the ids to delete.
asio::awaitable<void> send_repair(Context& ctx, std::size_t slot, const std::string& uid,
                                  const std::string& pk, const json& writes, const json& deletes,
                                  std::vector<std::pair<std::size_t, std::uint64_t>>& tasks) {
    if (!writes.empty()) {
        auto target = index_path(uid) + "/documents?primaryKey=" + http::percent_encode(pk);
        co_await enqueue(ctx, slot, uid, std::move(target), writes.dump(), tasks);
    }
    if (!deletes.empty()) {
        auto target = index_path(uid) + "/documents/delete-batch";
        co_await enqueue(ctx, slot, uid, std::move(target), deletes.dump(), tasks);
    }
}

// Waits for the repair's node tasks; a failed one is an error of the pass.
asio::awaitable<void> wait_repairs(
    Context& ctx, const std::vector<std::pair<std::size_t, std::uint64_t>>& tasks) {
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(ctx.config.rebalance.task_timeout_ms);
    for (const auto& [slot, uid] : tasks) {
        for (std::uint32_t delay = 2;; delay = std::min<std::uint32_t>(delay * 2, 200)) {
            unsigned status = 0;
            const auto task = co_await call(
                ctx, slot, node_request(Method::get, "/tasks/" + std::to_string(uid)), status);
            const auto state = task.is_object() ? task.value("status", std::string()) : "";
            if (state == "succeeded") break;
            if (state == "failed" || state == "canceled" || Clock::now() > deadline) {
                throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) + "` repair task " +
                                         std::to_string(uid) + " " +
                                         (state.empty() ? "unknown" : state));
            }
            co_await sleep_ms(delay);
        }
    }
}

using Tasks = std::vector<std::pair<std::size_t, std::uint64_t>>;
using OwnersOf = std::function<std::vector<std::size_t>(std::uint32_t)>;

// Reads `suspects` again on `nodes` and makes each document on its owners (`owners_of` its
// shard) as the verdict says, under the closed `gate`; the node tasks go to `tasks`.
asio::awaitable<void> settle(Context& ctx, const std::string& uid, const std::string& pk,
                             const Suspects& suspects, const OwnersOf& owners_of,
                             const std::vector<std::size_t>& nodes, Counts& counts, GateState& gate,
                             bool& expired, Tasks& tasks) {
    const auto fleet = ctx.fleet_of(uid);
    std::vector<std::string> ids;
    for (const auto& [shard, set] : suspects) ids.insert(ids.end(), set.begin(), set.end());
    std::map<std::size_t, Documents> held;
    for (auto n : nodes) {
        co_await extend_gate(ctx, gate, expired);
        held[n] = co_await fetch_ids(ctx, n, uid, pk, ids, counts);
    }
    std::map<std::size_t, std::pair<json, json>> work;  // node → (writes, deletes)
    // an expired document is deleted, never copied back, while the index's TTL is on
    const auto now = fleet->topology().ttl_of(uid) ? util::unix_ms() / 1000
                                                   : std::numeric_limits<std::int64_t>::min();
    for (const auto& [shard, set] : suspects) {
        const auto owners = owners_of(shard);
        const bool reachable = std::all_of(owners.begin(), owners.end(),
                                           [&](std::size_t n) { return held.contains(n); });
        if (!reachable) continue;  // an owner is down: its copy is unknown
        for (const auto& id : set) {
            std::vector<entropy::Holding> holdings;
            const auto holding = [&](std::size_t n, bool owner) {
                entropy::Holding h{n, owner, std::nullopt};
                const auto it = held[n].find(id);
                if (it != held[n].end()) h.version = entropy::version_of(it->second, shard);
                return h;
            };
            for (auto n : owners) holdings.push_back(holding(n, true));
            for (auto n : nodes) {
                if (std::find(owners.begin(), owners.end(), n) != owners.end()) continue;
                if (held[n].contains(id)) holdings.push_back(holding(n, false));
            }
            const auto verdict = entropy::decide(holdings, now);
            for (auto n : verdict.write) work[n].first.push_back(held[*verdict.source][id]);
            for (auto n : verdict.remove) work[n].second.push_back(held[n][id].value(pk, json()));
        }
    }
    for (const auto& [n, writes_deletes] : work) {
        co_await extend_gate(ctx, gate, expired);
        const auto& [writes, deletes] = writes_deletes;
        co_await send_repair(ctx, n, uid, pk, writes, deletes, tasks);
        counts.documents_written += writes.size();
        counts.documents_deleted += deletes.size();
        ctx.metrics.antientropy_repaired("written", writes.size());
        ctx.metrics.antientropy_repaired("deleted", deletes.size());
        log::info("anti-entropy repaired a node",
                  {{"index", uid},
                   {"node", fleet->node_id(n)},
                   {"written", static_cast<std::int64_t>(writes.size())},
                   {"deleted", static_cast<std::int64_t>(deletes.size())}});
    }
}

// The repair proper, under the closed gate: every usable node idle on the index, then the
// suspects settled over every owner of their shards.
asio::awaitable<void> repair_held(Context& ctx, const std::string& holder, const Fleet& fleet,
                                  const std::string& uid, const std::string& pk,
                                  const Suspects& suspects, Counts& counts, GateState& gate,
                                  bool& expired, Tasks& tasks) {
    std::vector<std::size_t> nodes;
    for (auto n : fleet.members()) {
        if (ctx.health.usable(n)) nodes.push_back(n);
    }
    for (auto n : nodes) co_await wait_applied(ctx, holder, n, uid, gate, expired);
    const OwnersOf owners_of = [&fleet](std::uint32_t shard) { return all_owners(fleet, shard); };
    co_await settle(ctx, uid, pk, suspects, owners_of, nodes, counts, gate, expired, tasks);
}

}  // namespace

// Every owner of `shard`, group after group, each in its group's owner order.
std::vector<std::size_t> all_owners(const Fleet& fleet, std::uint32_t shard) {
    std::vector<std::size_t> out;
    for (const auto& group : fleet.groups()) {
        for (auto n : fleet.owners(group, shard)) {
            if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
        }
    }
    return out;
}

std::string canonical_id(const json& id) {
    if (id.is_string()) return id.get<std::string>();
    return id.is_number_integer() ? id.dump() : std::string();
}

asio::awaitable<bool> repair(Context& ctx, const std::string& uid, const std::string& pk,
                             const Suspects& suspects, Counts& counts) {
    if (suspects.empty()) co_return true;
    const std::string holder = pod_name() + "/anti-entropy";
    if (ctx.fleet()->topology().rebalancing()) co_return false;
    if (!co_await ctx.store.lease(kLease, holder, ctx.config.rebalance.lease_ms)) co_return false;
    co_await reload_topology(ctx);  // a rebalance started just before the lease was taken
    const auto fleet = ctx.fleet_of(uid);
    if (fleet->topology().rebalancing()) {
        co_await ctx.store.lease(kLease, holder, 1);
        co_return false;
    }
    Tasks tasks;
    std::exception_ptr failure;
    auto gate = co_await fence(ctx, holder);
    bool expired = false;
    try {
        co_await repair_held(ctx, holder, *fleet, uid, pk, suspects, counts, gate, expired, tasks);
    } catch (...) {
        failure = std::current_exception();
    }
    if (util::unix_ms() >= gate.until) expired = true;
    co_await unfence(ctx, gate);
    co_await ctx.store.lease(kLease, holder, 1);  // let a rebalance start at once
    if (failure) std::rethrow_exception(failure);
    if (expired) {
        log::warn(
            "anti-entropy: the write gate opened by itself during a repair; the next pass "
            "checks its documents again",
            {{"index", uid}});
    }
    co_await wait_repairs(ctx, tasks);
    co_return true;
}

asio::awaitable<void> settle_sources(Context& ctx, const std::string& uid, const std::string& pk,
                                     const Suspects& suspects,
                                     const std::vector<std::size_t>& sources, GateState& gate,
                                     bool& expired) {
    const OwnersOf owners_of = [&sources](std::uint32_t) { return sources; };
    Counts counts;
    Tasks tasks;
    co_await settle(ctx, uid, pk, suspects, owners_of, sources, counts, gate, expired, tasks);
    co_await wait_repairs(ctx, tasks);
    log::info("rebalance: the sources of a shard were made to agree before its copy",
              {{"index", uid},
               {"written", static_cast<std::int64_t>(counts.documents_written)},
               {"deleted", static_cast<std::int64_t>(counts.documents_deleted)}});
}

}  // namespace miroir::workers::anti_entropy
