// The rebalancer: carries out a change of one replica group's nodes (docs/operations.md,
// "Rebalancing"). The shards whose owners change are written to old and new owners from the
// start; each is then copied, every index at once, while the write gate is closed: the source
// has applied every write it was sent, the new owners' copies of the shard are cleared, the
// source's documents of the shard are paged to them, and writes resume once the pages are
// enqueued (a node applies one index's tasks in order, so no later write is overwritten by
// the copy). When every shard is copied, reads switch to the new owners; then writes stop
// reaching the old ones and their copies are deleted. Progress is in the topology, so a
// restarted Miroir resumes; one pod at a time drives it, holding the rebalance lease (renewed
// through every long wait; a phase changes only from the phase its driver saw, so a pod whose
// lease lapsed cannot move on a rebalance another pod drives now).
//
// The write gate is shared by every pod through the task store: the driver writes it closed
// (with a new epoch and a deadline), every pod's gate follower closes its own gate, waits for
// its writes in flight, and acknowledges the epoch; the driver copies once every live pod
// (one that acknowledged within rebalance.lease_ms) did, then writes the gate open. A gate
// left closed by a driver that died opens by itself at its deadline; a copy that outlived its
// gate's deadline is done again.
#include "rebalance.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/fleet/write_gate.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/node_client.hpp>
#include <miroir/util/time.hpp>
#include <miroir/workers/workers.hpp>

namespace miroir::workers::rebalancing {

using namespace miroir::fleet;
using namespace miroir::scatter;
namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using Clock = std::chrono::steady_clock;

namespace {

// The first group whose nodes differ from its target, if any.
std::optional<int> unbalanced_group(const Topology& t) {
    for (int g : t.groups) {
        if (t.holding(g) != t.target(g)) return g;
    }
    return std::nullopt;
}

Rebalance plan_rebalance(const Topology& t, int group) {
    Rebalance r;
    r.id = t.rebalance ? t.rebalance->id + 1 : 1;
    r.group = group;
    r.before = t.holding(group);
    r.after = t.target(group);
    r.started_at = util::unix_ms();
    // the indexes routed with another shard count move their own shards
    for (const auto count : t.shard_counts()) {
        for (const auto& m : routing::plan_moves(r.before, r.after, count, t.replication_factor)) {
            ++r.shards_moving;
            r.copies_moved += m.gained.size();
        }
        r.minimum_copies += routing::minimum_moves(r.before, r.after, count, t.replication_factor);
    }
    return r;
}

// Waits long enough for every pod to have loaded the latest topology, then for the writes
// every pod began under an older one to end.
asio::awaitable<void> settle(Context& ctx) {
    co_await sleep_ms(2 * ctx.config.rebalance.topology_poll_ms);
    const auto gate = co_await fence(ctx);
    co_await unfence(ctx, gate);
}

// Drives rebalances until every group is balanced or this pod should stop.
asio::awaitable<void> drive(Context& ctx) {
    for (;;) {
        const auto fleet = ctx.fleet();
        const auto& t = fleet->topology();
        if (!t.rebalancing()) {
            if (t.rebalance && t.rebalance->phase == "done" && unbalanced_group(t) &&
                !t.filling_shadow()) {
                if (co_await start_rebalance(ctx)) continue;
            }
            co_return;
        }
        auto r = *t.rebalance;
        co_await keep_lease(ctx);
        if (r.phase == "failed" || r.phase == "copying") {
            if (r.phase == "failed") {
                std::function<void(Rebalance&)> resume = [](Rebalance& b) {
                    b.phase = "copying";
                    b.error.clear();
                };
                co_await advance(ctx, r.id, "failed", std::move(resume));
            }
            log::info("rebalance copying",
                      {{"id", static_cast<std::int64_t>(r.id)},
                       {"group", r.group},
                       {"shards", static_cast<std::int64_t>(r.shards_moving)},
                       {"copied", static_cast<std::int64_t>(r.shards_copied())}});
            report(ctx, r, true);
            co_await copy_all(ctx, r);
            std::function<void(Rebalance&)> to_switched = [](Rebalance& b) {
                b.phase = "switched";
            };
            co_await advance(ctx, r.id, "copying", std::move(to_switched));
            log::info("rebalance switched reads", {{"id", static_cast<std::int64_t>(r.id)}});
        } else if (r.phase == "switched") {
            co_await settle(ctx);
            std::function<void(Rebalance&)> to_cleaning = [](Rebalance& b) {
                b.phase = "cleaning";
            };
            co_await advance(ctx, r.id, "switched", std::move(to_cleaning));
        } else if (r.phase == "cleaning") {
            co_await settle(ctx);
            co_await clean(ctx, r);
            const auto group = r.group;
            const auto after = r.after;
            std::function<void(Topology&)> finish = [group, after, id = r.id](Topology& topology) {
                if (!topology.rebalance || topology.rebalance->id != id ||
                    topology.rebalance->phase != "cleaning") {
                    throw Superseded("the rebalance was replaced or moved on");
                }
                for (auto& n : topology.nodes) {
                    if (n.group != group) continue;
                    const bool kept = std::find(after.begin(), after.end(), n.id) != after.end();
                    if (kept && n.role == NodeRole::joining) n.role = NodeRole::active;
                    if (!kept && n.role == NodeRole::draining) n.role = NodeRole::removed;
                }
                topology.rebalance->phase = "done";
                topology.rebalance->finished_at = util::unix_ms();
            };
            const auto done = co_await change_topology(ctx, std::move(finish));
            report(ctx, *done->topology().rebalance, false);
            log::info("rebalance done",
                      {{"id", static_cast<std::int64_t>(r.id)},
                       {"documents_copied", static_cast<std::int64_t>(r.documents_copied)}});
        }
    }
}

asio::awaitable<void> rebalance_forever(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    for (;;) {
        timer.expires_after(std::chrono::milliseconds(
            std::min<std::uint32_t>(ctx.config.rebalance.topology_poll_ms, 200)));
        co_await timer.async_wait(asio::use_awaitable);
        const auto fleet = ctx.fleet();
        if (!fleet->topology().rebalancing()) continue;
        const auto id = fleet->topology().rebalance->id;
        std::string error;
        try {
            const bool held =
                co_await ctx.store.lease(kLease, pod_name(), ctx.config.rebalance.lease_ms);
            if (held) {
                // the rebalance as stored, not as last polled: the pod that drove it before
                // may have moved it on, or finished it, since
                co_await reload_topology(ctx);
                co_await drive(ctx);
            }
        } catch (const Superseded& e) {
            log::info("rebalance left to another", {{"reason", e.what()}});
        } catch (const std::exception& e) {
            error = e.what();
        }
        if (error.empty()) continue;
        log::error("rebalance failed", {{"id", static_cast<std::int64_t>(id)}, {"error", error}});
        ctx.metrics.rebalance_progress(false, 0, 0);
        try {
            std::function<void(Rebalance&)> failed = [error](Rebalance& b) {
                if (b.phase == "done") return;
                if (!b.switched()) b.phase = "failed";
                b.error = error;
            };
            co_await advance(ctx, id, kAnyPhase, std::move(failed));
        } catch (const std::exception& e) {
            log::error("rebalance state not saved", {{"error", e.what()}});
        }
        // a failed rebalance is retried after a pause (a node may come back)
        timer.expires_after(std::chrono::milliseconds(ctx.config.rebalance.lease_ms));
        co_await timer.async_wait(asio::use_awaitable);
    }
}

json status_of(const Rebalance& r) {
    json j;
    j["id"] = r.id;
    j["group"] = r.group;
    j["phase"] = r.phase;
    j["before"] = r.before;
    j["after"] = r.after;
    j["shardsMoving"] = r.shards_moving;
    j["shardsCopied"] = r.shards_copied();
    j["copiesMoved"] = r.copies_moved;
    j["minimumCopies"] = std::round(r.minimum_copies * 100) / 100;
    j["documentsCopied"] = r.documents_copied;
    j["startedAt"] = r.started_at;
    j["finishedAt"] = r.finished_at ? json(r.finished_at) : json(nullptr);
    j["error"] = r.error.empty() ? json(nullptr) : json(r.error);
    return j;
}

}  // namespace

// Applies `change` to the rebalance `id` in the stored topology; Superseded when it is gone.
asio::awaitable<std::shared_ptr<const Fleet>> advance(Context& ctx, std::uint64_t id,
                                                      std::string phase,
                                                      std::function<void(Rebalance&)> change) {
    // a driver that lost its lease while it worked must not move the rebalance on: another
    // pod may drive it now (and may have finished it)
    co_await keep_lease(ctx);
    std::function<void(Topology&)> apply = [id, phase = std::move(phase),
                                            change = std::move(change)](Topology& t) {
        if (!t.rebalance || t.rebalance->id != id) throw Superseded("the rebalance was replaced");
        if (phase != kAnyPhase && t.rebalance->phase != phase) {
            throw Superseded("the rebalance moved on to " + t.rebalance->phase);
        }
        change(*t.rebalance);
    };
    co_return co_await change_topology(ctx, std::move(apply));
}

void report(Context& ctx, const Rebalance& r, bool running) {
    ctx.metrics.rebalance_progress(running, r.shards_moving, r.shards_copied());
}

}  // namespace miroir::workers::rebalancing

namespace miroir::workers {

using namespace miroir::fleet;
using namespace rebalancing;

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

void refuse_while_filling(const Topology& t) {
    const auto* uid = t.filling_shadow();
    if (!uid) return;
    throw http::error(409, "miroir_reshard_in_progress",
                      "Index `" + *uid +
                          "` is being resharded: the nodes change, and a rebalance starts, once "
                          "it has switched (`GET /_miroir/indexes/" +
                          *uid + "/reshard/status`).");
}

asio::awaitable<bool> start_rebalance(Context& ctx) {
    // the nodes that gain shards get every index first: writes reach them from the start
    {
        const auto fleet = ctx.fleet();
        const auto& t = fleet->topology();
        const auto group = t.rebalancing() ? std::nullopt : unbalanced_group(t);
        if (group) {
            const auto planned = plan_rebalance(t, *group);
            std::vector<std::string> gaining;
            for (const auto& id : planned.after) {
                if (std::find(planned.before.begin(), planned.before.end(), id) ==
                    planned.before.end()) {
                    gaining.push_back(id);
                }
            }
            std::string error;
            try {
                const auto indexes = co_await indexes_to_move(ctx, *fleet, planned);
                co_await prepare(ctx, slots_of(*fleet, gaining), indexes);
            } catch (const std::exception& e) {
                error = e.what();
            }
            if (!error.empty()) {
                throw http::ApiError(503, "miroir_rebalance_unavailable", http::ErrorType::system,
                                     "The rebalance cannot start: " + error + ".");
            }
        }
    }
    bool started = false;
    std::function<void(Topology&)> begin = [&started](Topology& t) {
        started = false;
        if (t.rebalancing()) {
            throw http::error(
                409, "miroir_rebalance_in_progress",
                "A rebalance is in progress (" + t.rebalance->phase + "); wait for it to finish.");
        }
        refuse_while_filling(t);
        const auto group = unbalanced_group(t);
        if (!group) return;
        t.rebalance = plan_rebalance(t, *group);
        started = true;
    };
    const auto fleet = co_await change_topology(ctx, std::move(begin));
    if (started) {
        const auto& r = *fleet->topology().rebalance;
        log::info("rebalance started", {{"id", static_cast<std::int64_t>(r.id)},
                                        {"group", r.group},
                                        {"shards", static_cast<std::int64_t>(r.shards_moving)},
                                        {"copies", static_cast<std::int64_t>(r.copies_moved)}});
        report(ctx, r, true);
    }
    co_return started;
}

asio::awaitable<void> follow_write_gate(Context& ctx) { co_await follow_gate(ctx); }

asio::awaitable<void> follow_shared_gate(Context& ctx) { return follow_gate_forever(ctx); }

asio::awaitable<void> drive_rebalances(Context& ctx) { return rebalance_forever(ctx); }

std::string rebalance_status(const Fleet& fleet) {
    const auto& t = fleet.topology();
    json body;
    body["state"] =
        t.rebalancing() ? (t.rebalance->phase == "failed" ? "failed" : "running") : "idle";
    body["balanced"] = !t.rebalancing() && !unbalanced_group(t);
    body["topologyVersion"] = t.version;
    body["rebalance"] = t.rebalance ? status_of(*t.rebalance) : json(nullptr);
    return body.dump();
}

}  // namespace miroir::workers
