// The switch of a reshard's copies under the closed gates: no write anywhere, no read of an
// index being resharded, on any pod, until the index is routed with the count its copy on the
// nodes now holds.
#include "reshard_switch.hpp"

#include <chrono>
#include <stdexcept>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/scatter/hints.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/util/time.hpp>

#include "rebalance.hpp"
#include "reshard.hpp"

namespace miroir::workers::resharding {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using rebalancing::GateState;
using scatter::index_path;
using scatter::node_request;

// Swaps `a` and `b` on `nodes`; the nodes whose swap succeeded.
asio::awaitable<std::vector<std::size_t>> swap_on(Context& ctx,
                                                  const std::vector<std::size_t>& nodes,
                                                  const std::string& a, const std::string& b) {
    json swap = json::array();
    swap.push_back({{"indexes", {a, b}}});
    const auto body = swap.dump();
    std::vector<std::pair<std::size_t, std::uint64_t>> tasks;
    for (const auto n : nodes) {
        unsigned status = 0;
        json answer;
        try {  // a node that does not answer is not swapped (as far as is known)
            answer = co_await rebalancing::call(
                ctx, n, node_request(Method::post, "/swap-indexes", body), status);
        } catch (const std::exception& e) {
            log::warn("reshard: a node did not answer the swap",
                      {{"node", ctx.fleet()->node_id(n)}, {"error", e.what()}});
        }
        if (status == 202 && answer.value("taskUid", json()).is_number_unsigned()) {
            tasks.emplace_back(n, answer["taskUid"].get<std::uint64_t>());
        }
    }
    std::vector<std::size_t> done;
    for (const auto& [n, task] : tasks) {
        const auto state = co_await finished_state(ctx, n, task);
        if (state == "succeeded") done.push_back(n);
    }
    co_return done;
}

// The switch itself, the gates closed: the shadow made equal to the index, the two swapped on
// every node, the layout changed.
// The gate kept closed and the rebalance lease kept during a long switch; throws once the gate
// opened by itself (writes may have landed in the copy being replaced).
asio::awaitable<void> hold(Context& ctx, GateState& gate, bool& expired,
                           const std::string& holder) {
    co_await rebalancing::keep_lease(ctx, holder);
    co_await rebalancing::extend_gate(ctx, gate, expired);
    if (expired) throw std::runtime_error("the write gate opened by itself during the switch");
}

asio::awaitable<void> switch_held(Context& ctx, json& state, bool forward, GateState& gate,
                                  const std::string& holder) {
    const auto uid = state["uid"].get<std::string>();
    const auto whole = ctx.fleet();
    const auto shadow = whole->shadow_of(uid);
    if (!shadow) throw std::runtime_error("the layout of `" + uid + "` lost its shadow");
    const Copy index{uid, &whole->for_index(uid)}, other{shadow->uid, shadow->fleet};
    co_await wait_idle(ctx, uid);
    co_await wait_idle(ctx, shadow->uid);
    const auto settings = co_await index_settings(ctx, uid);
    const auto shadow_settings = co_await index_settings(ctx, shadow->uid);
    if (settings != shadow_settings) {
        // changed during the reshard: the shadow takes them before the last comparison
        const auto body = settings.dump();
        for (const auto n : whole->members()) {
            unsigned status = 0;
            co_await rebalancing::call(
                ctx, n, node_request(Method::patch, index_path(shadow->uid) + "/settings", body),
                status);
        }
        co_await wait_idle(ctx, shadow->uid);
    }
    const auto pk = state["primaryKey"].get<std::string>();
    // every difference found first, then sent in the order of the places (the nodes order
    // complete ties by when documents were added)
    SyncCounts counts;
    bool expired = false;
    const auto places = co_await places_of(ctx, index, other, pk, counts);
    co_await hold(ctx, gate, expired, holder);
    Needs needs;
    for (std::uint32_t shard = 0; shard < other.fleet->shards(); ++shard) {
        co_await compare_places(ctx, other, pk, places, shard, counts, needs);
        co_await hold(ctx, gate, expired, holder);
    }
    Mends mends;
    co_await fetch_needed(ctx, index, other, pk, places, needs, mends);
    co_await hold(ctx, gate, expired, holder);
    co_await apply(ctx, other, pk, mends, counts);
    co_await hold(ctx, gate, expired, holder);
    ctx.metrics.reshard_repaired(uid, counts.written);
    // from here a failure keeps both copies: where a swap was made is not known for sure
    state["swapTried"] = true;
    co_await ctx.store.put_record(kTable, uid, state.dump());
    const auto mended = counts.written;
    state["documentsRepaired"] = state.value("documentsRepaired", std::uint64_t{0}) + mended;
    const auto swapped = co_await swap_on(ctx, whole->members(), uid, shadow->uid);
    if (swapped.size() != whole->members().size()) {
        co_await swap_on(ctx, swapped, uid, shadow->uid);  // back as it was
        throw std::runtime_error("a node did not swap `" + uid + "` with its shadow");
    }
    const auto now_on = other.fleet->shards(), kept = index.fleet->shards();
    const auto shadow_uid = shadow->uid;
    co_await fleet::change_topology(ctx, [&](fleet::Topology& t) {
        if (forward) {
            t.layouts[uid] = fleet::IndexLayout{now_on, shadow_uid, kept, "switched"};
        } else if (now_on == t.shards) {
            t.layouts.erase(uid);
        } else {
            t.layouts[uid] = fleet::IndexLayout{now_on, "", 0, ""};
        }
    });
    const auto hours = state.value("retainOldIndexHours", 24.0);
    state["switchedAt"] = util::rfc3339(util::now());
    state["retainUntilMs"] = util::unix_ms() + static_cast<std::int64_t>(hours * 3600 * 1000);
    log::info("reshard switched", {{"index", uid},
                                   {"shards", static_cast<std::int64_t>(now_on)},
                                   {"mended", static_cast<std::int64_t>(mended)}});
}

// The name a reshard of this pod holds the rebalance lease under to close the gates.
std::string gate_holder() { return rebalancing::pod_name() + "/reshard"; }

// Takes the rebalance lease to close the gates; false while a rebalance runs or another holds it.
asio::awaitable<bool> take_gate(Context& ctx, const std::string& holder) {
    if (ctx.fleet()->topology().rebalancing()) co_return false;
    co_return co_await ctx.store.lease(rebalancing::kLease, holder, ctx.config.rebalance.lease_ms);
}

// Whether a node missed writes of index `a` or `b` that are still to be replayed to it.
asio::awaitable<bool> hints_pending(Context& ctx, const std::string& a, const std::string& b) {
    const auto records = co_await ctx.store.records(scatter::kHintTable);
    for (const auto& [key, text] : records) {
        const auto hint = scatter::decode_hint(key, text);
        if (hint && (hint->index == a || hint->index == b)) co_return true;
    }
    co_return false;
}

}  // namespace

asio::awaitable<json> index_settings(Context& ctx, const std::string& uid) {
    const auto fleet = ctx.fleet();
    for (const auto n : fleet->members()) {
        if (!ctx.health.usable(n)) continue;
        unsigned status = 0;
        auto settings = co_await rebalancing::call(
            ctx, n, node_request(Method::get, index_path(uid) + "/settings"), status);
        if (status == 200 && settings.is_object()) co_return settings;
    }
    throw std::runtime_error("no node gave the settings of `" + uid + "`");
}

asio::awaitable<void> wait_idle(Context& ctx, const std::string& uid) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(ctx.config.rebalance.task_timeout_ms);
    const auto fleet = ctx.fleet();
    for (const auto n : fleet->members()) {
        for (std::uint32_t delay = 2;; delay = std::min<std::uint32_t>(delay * 2, 100)) {
            const auto pending = co_await rebalancing::pending_task(ctx, n, uid);
            if (!pending) break;
            if (std::chrono::steady_clock::now() > deadline) {
                throw std::runtime_error("node `" + fleet->node_id(n) + "` kept tasks of `" + uid +
                                         "` pending");
            }
            co_await rebalancing::sleep_ms(delay);
        }
    }
}

asio::awaitable<bool> settle_writes(Context& ctx) {
    const auto holder = gate_holder();
    const bool held = co_await take_gate(ctx, holder);
    if (!held) co_return false;
    std::exception_ptr failure;
    try {
        const auto gate = co_await rebalancing::fence(ctx, holder);
        co_await rebalancing::unfence(ctx, gate);
    } catch (...) {
        failure = std::current_exception();
    }
    co_await ctx.store.lease(rebalancing::kLease, holder, 1);  // given back
    if (failure) std::rethrow_exception(failure);
    co_return true;
}

asio::awaitable<bool> switch_copies(Context& ctx, json& state, bool forward) {
    // a read that began before the index's layout named the shadow held no pass: it has ended
    const auto since = util::unix_ms() - state.value("copyStartedMs", std::int64_t{0});
    const auto deadline = static_cast<std::int64_t>(ctx.config.scatter.read_deadline_ms);
    if (since < deadline)
        co_await rebalancing::sleep_ms(static_cast<std::uint32_t>(deadline - since));
    const auto uid = state["uid"].get<std::string>();
    const auto shadow = state["shadow"].get<std::string>();
    // hints pending: tried again once they are replayed, without holding anything meanwhile
    const bool hinted = co_await hints_pending(ctx, uid, shadow);
    if (hinted) co_return false;
    const auto holder = gate_holder();
    const bool held = co_await take_gate(ctx, holder);
    if (!held) co_return false;
    co_await fleet::reload_topology(ctx);
    if (ctx.fleet()->topology().rebalancing()) {  // started before this pod saw it
        co_await ctx.store.lease(rebalancing::kLease, holder, 1);
        co_return false;
    }
    std::exception_ptr failure;
    bool missed = false;
    auto gate = co_await rebalancing::fence(ctx, holder, true);
    try {
        // the writes held, no owner misses more: an owner that missed writes of either copy
        // has them replayed first (a copy compared against it would take its stale documents)
        missed = co_await hints_pending(ctx, uid, shadow);
        if (!missed) co_await switch_held(ctx, state, forward, gate, holder);
    } catch (...) {
        failure = std::current_exception();
    }
    co_await rebalancing::unfence(ctx, gate);
    co_await ctx.store.lease(rebalancing::kLease, holder, 1);  // given back
    if (failure) std::rethrow_exception(failure);
    if (missed) log::info("reshard switch waits for hints to be replayed", {{"index", uid}});
    co_return !missed;
}

}  // namespace miroir::workers::resharding
