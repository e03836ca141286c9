// The reshard job and its API: a reshard's record in the task store, taken through its phases
// by the pod holding its lease.
//   preparing    the shadow made on every node with the index's primary key and settings, then
//                named by the index's layout (the reads of the index hold passes from then on)
//   copying      the shadow filled from the index, every owner in the order of the places
//   switching    under the closed gates: the shadow compared to the index and mended (what was
//                written since it was copied), swapped on every node, the index routed with
//                the new count (reshard_switch.cpp)
//   switched     the old copy kept, written with every write, until `retainUntil` (or a
//                rollback, or the index's deletion, which deletes the old copy with it)
//   rolling_back switched back the same way; then the new copy is deleted
// A reshard that fails before its switch deletes its shadow: clients never saw it.
#include "reshard.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/pods.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/util/time.hpp>
#include <miroir/workers/reshard.hpp>

#include "rebalance.hpp"
#include "reshard_switch.hpp"

namespace miroir::workers {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using namespace resharding;

constexpr std::chrono::milliseconds kTickMs{200};
constexpr std::chrono::milliseconds kPodsWait{30000};

// The switch could not take the gate now (a rebalance or anti-entropy holds it).
struct Busy {};

bool active(const json& state) {
    const auto status = state.value("status", std::string());
    return status == "enqueued" || status == "processing";
}

// The stored text of index `uid`'s reshard record, if any.
asio::awaitable<std::optional<std::string>> load_text(Context& ctx, const std::string& uid) {
    const auto records = co_await ctx.store.records(kTable);
    for (const auto& [key, text] : records) {
        if (key == uid) co_return text;
    }
    co_return std::nullopt;
}

asio::awaitable<std::optional<json>> load(Context& ctx, const std::string& uid) {
    const auto text = co_await load_text(ctx, uid);
    if (!text) co_return std::nullopt;
    auto state = json::parse(*text, nullptr, false);
    if (!state.is_object()) co_return std::nullopt;
    co_return state;
}

// Saves the driver's record, keeping a rollback of this same reshard asked for meanwhile
// (through any pod): stored only over the record it read, else read again.
asio::awaitable<void> save(Context& ctx, json& state) {
    const auto uid = state["uid"].get<std::string>();
    for (int attempt = 0; attempt < 20; ++attempt) {
        const auto text = co_await load_text(ctx, uid);
        const auto stored = text ? json::parse(*text, nullptr, false) : json();
        if (stored.is_object() && stored.value("enqueuedAt", json()) == state["enqueuedAt"] &&
            stored.value("rollbackRequested", false)) {
            state["rollbackRequested"] = true;
        }
        const bool saved = co_await ctx.store.put_record_if(kTable, uid, text, state.dump());
        if (saved) co_return;
    }
    throw std::runtime_error("the reshard's record kept changing");
}

http::ApiError conflict(const std::string& code, const std::string& message) {
    return http::ApiError(409, code, http::ErrorType::invalid_request, message);
}

// The layout index `uid` has once routed with `shards` and no shadow: none at the fleet's count.
void settle_layout(fleet::Topology& t, const std::string& uid, std::uint32_t shards) {
    if (shards == t.shards) {
        t.layouts.erase(uid);
    } else {
        t.layouts[uid] = fleet::IndexLayout{shards, "", 0, ""};
    }
}

// Deletes `shadow` from every node, and waits until each node has (a node without it fails its
// task: nothing to delete).
asio::awaitable<void> delete_shadow(Context& ctx, const std::string& shadow) {
    const auto fleet = ctx.fleet();
    rebalancing::NodeTasks tasks;
    for (const auto n : fleet->members()) {
        unsigned status = 0;
        const auto answer = co_await rebalancing::call(
            ctx, n, scatter::node_request(Method::del, scatter::index_path(shadow)), status);
        if (status == 202 && answer.value("taskUid", json()).is_number_unsigned()) {
            tasks.emplace_back(n, answer["taskUid"].get<std::uint64_t>());
        }
    }
    for (const auto& [n, uid] : tasks) {
        const auto state = co_await finished_state(ctx, n, uid);
        if (state.empty()) {
            throw std::runtime_error("node `" + fleet->node_id(n) + "` did not delete `" + shadow +
                                     "` in time");
        }
    }
}

// Ends a reshard that did not switch: its shadow deleted, the layout as before.
asio::awaitable<void> undo(Context& ctx, json& state, const std::string& status,
                           const json& error) {
    const auto uid = state["uid"].get<std::string>();
    const auto from = state["fromShards"].get<std::uint32_t>();
    co_await fleet::change_topology(
        ctx, [&uid, from](fleet::Topology& t) { settle_layout(t, uid, from); });
    co_await delete_shadow(ctx, state["shadow"].get<std::string>());
    state["status"] = status;
    state["phase"] = status;
    state["error"] = error;
    state["finishedAt"] = util::rfc3339(util::now());
    ctx.metrics.reshard_ended(status);
    co_await save(ctx, state);
    log::info("reshard ended before its switch", {{"index", uid}, {"status", status}});
}

// preparing: the shadow on every node, then named by the index's layout.
asio::awaitable<void> prepare(Context& ctx, json& state) {
    const auto uid = state["uid"].get<std::string>();
    const auto shadow = state["shadow"].get<std::string>();
    const auto record = co_await scatter::lookup_index(ctx, uid);
    if (!record) throw std::runtime_error("index `" + uid + "` was deleted");
    const auto to = state["toShards"].get<std::uint32_t>();
    const auto from = state["fromShards"].get<std::uint32_t>();
    if (!record->primary_key) {  // no document yet: routed with the new count at once
        co_await fleet::change_topology(
            ctx, [&uid, to](fleet::Topology& t) { settle_layout(t, uid, to); });
        state["phase"] = state["status"] = "succeeded";
        state["finishedAt"] = util::rfc3339(util::now());
        co_return;
    }
    state["primaryKey"] = *record->primary_key;
    const auto fleet = ctx.fleet();
    const auto* layout = fleet->topology().layout_of(uid);
    if (!layout || layout->shadow != shadow) {  // else made and named by an earlier try
        co_await delete_shadow(ctx, shadow);    // what a failed attempt left
        const auto settings = co_await index_settings(ctx, uid);
        const std::vector<rebalancing::IndexToMove> indexes{
            {shadow, record->primary_key, settings}};
        co_await rebalancing::prepare(ctx, fleet->members(), indexes);
        co_await wait_idle(ctx, shadow);
    }
    const auto named = co_await fleet::change_topology(ctx, [&](fleet::Topology& t) {
        if (t.rebalancing()) throw std::runtime_error("a rebalance started");
        t.layouts[uid] = fleet::IndexLayout{from, shadow, to, "copying"};
    });
    // every pod routes with the layout (its reads of the index hold passes, its deletion of
    // the index is refused) before the copy starts
    const auto behind = co_await fleet::wait_pods_loaded(ctx, named->version(), kPodsWait);
    if (!behind.empty()) throw std::runtime_error("pods did not load the layout in time");
    // a write a pod began under the older layout (an edition by a function, checked against
    // it) has ended: it was given to the nodes, or it is refused now
    const bool settled = co_await settle_writes(ctx);
    if (!settled) throw Busy();    // the gate is another's now: later
    co_await wait_idle(ctx, uid);  // the writes given before, applied before the copy reads
    state["phase"] = "copying";
    state["copyStartedMs"] = util::unix_ms();
}

// copying: the shadow filled from the index in one ordered pass; a pass a restart interrupted
// starts again from an empty shadow.
asio::awaitable<void> copy(Context& ctx, json& state) {
    const auto uid = state["uid"].get<std::string>();
    const auto whole = ctx.fleet();
    const auto shadow = whole->shadow_of(uid);
    if (!shadow) throw std::runtime_error("the layout of `" + uid + "` lost its shadow");
    if (state.value("copyBegun", false)) {
        for (const auto n : whole->members()) {
            unsigned status = 0;
            co_await rebalancing::call(
                ctx, n,
                scatter::node_request(Method::del, scatter::index_path(shadow->uid) + "/documents"),
                status);
        }
        co_await wait_idle(ctx, shadow->uid);
    }
    state["copyBegun"] = true;
    co_await save(ctx, state);
    const Copy from{uid, &whole->for_index(uid)}, to{shadow->uid, shadow->fleet};
    anti_entropy::Throttle throttle(state.value("throttleDocsPerSec", std::uint32_t{0}));
    SyncCounts counts;
    co_await backfill(ctx, from, to, state["primaryKey"].get<std::string>(), "reshard:" + uid,
                      throttle, counts);
    state["documentsCopied"] = counts.written;
    state["documentsRead"] = state.value("documentsRead", std::uint64_t{0}) + counts.read;
    ctx.metrics.reshard_copied(uid, counts.written);
}

// Ends a switched reshard: the old copy no longer routed (when the index's deletion has not
// done that already), then deleted once every pod loaded that. Again after an interruption.
asio::awaitable<void> finish_switched(Context& ctx, json& state) {
    const auto uid = state["uid"].get<std::string>();
    const auto to = state["toShards"].get<std::uint32_t>();
    // a rebalance moves the old copy too: it is deleted once the rebalance is done (a copy
    // would make it again on the nodes that gain shards)
    const auto settled = co_await fleet::change_topology(ctx, [&uid, to](fleet::Topology& t) {
        if (t.rebalancing()) throw Busy();
        const auto* layout = t.layout_of(uid);
        if (layout && !layout->shadow.empty()) settle_layout(t, uid, to);
    });
    // no pod writes to the old copy any more before it is deleted (a write would make it again)
    const auto behind = co_await fleet::wait_pods_loaded(ctx, settled->version(), kPodsWait);
    if (!behind.empty()) throw std::runtime_error("pods did not load the layout in time");
    co_await delete_shadow(ctx, state["shadow"].get<std::string>());
    const auto record = co_await scatter::lookup_index(ctx, uid);
    if (!record) state["indexDeleted"] = true;  // deleted after the switch, with its old copy
    state["phase"] = state["status"] = "succeeded";
    state["finishedAt"] = util::rfc3339(util::now());
    ctx.metrics.reshard_ended("finished");
}

// One step of a reshard: a phase done (or a part of one); the record saved.
asio::awaitable<void> step(Context& ctx, json& state) {
    const auto phase = state.value("phase", std::string());
    const bool rollback = state.value("rollbackRequested", false);
    if (rollback && (phase == "preparing" || phase == "copying")) {
        co_await undo(ctx, state, "rolled_back", json());
        co_return;
    }
    if (phase == "enqueued" || phase == "preparing") {
        state["status"] = "processing";
        state["phase"] = "preparing";
        state["startedAt"] = util::rfc3339(util::now());
        co_await prepare(ctx, state);
    } else if (phase == "copying") {
        co_await copy(ctx, state);
        state["phase"] = "switching";
    } else if (phase == "switching" || phase == "rolling_back") {
        const bool forward = phase == "switching";
        const auto fleet = ctx.fleet();
        const auto* layout = fleet->topology().layout_of(state["uid"].get<std::string>());
        // a switch whose topology change was made (and its record not saved) is not made again
        const bool made =
            forward ? layout && layout->phase == "switched" : !layout || layout->shadow.empty();
        if (!made && state.value("swapTried", false)) {
            throw std::runtime_error("the switch was interrupted during the swap");
        }
        if (!made) {
            const bool done = co_await switch_copies(ctx, state, forward);
            if (!done) throw Busy();  // the gate is another's now: later
        }
        state["swapTried"] = false;
        state["phase"] = forward ? "switched" : "rolled_back";
        if (!forward) {
            co_await delete_shadow(ctx, state["shadow"].get<std::string>());
            state["status"] = "rolled_back";
            state["finishedAt"] = util::rfc3339(util::now());
        }
        ctx.metrics.reshard_ended(forward ? "switched" : "rolled_back");
    } else if (phase == "switched") {
        const auto fleet = ctx.fleet();
        const auto* layout = fleet->topology().layout_of(state["uid"].get<std::string>());
        if (!layout || layout->shadow.empty()) {
            // the index was deleted (and the old copy is to go with it), or an earlier finish
            // was interrupted
            co_await finish_switched(ctx, state);
        } else if (rollback) {
            state["phase"] = "rolling_back";
        } else if (util::unix_ms() >= state.value("retainUntilMs", std::int64_t{0})) {
            co_await finish_switched(ctx, state);
        } else {
            co_return;
        }
    }
    co_await save(ctx, state);
}

// Runs one reshard until it waits (retention) or ends; a failure before the switch undoes it.
asio::awaitable<void> drive(Context& ctx, json state) {
    const auto uid = state["uid"].get<std::string>();
    for (int steps = 0; active(state) && steps < 1000; ++steps) {
        const auto phase = state.value("phase", std::string());
        std::string failure;
        try {
            co_await step(ctx, state);
        } catch (const rebalancing::Superseded&) {
            co_return;  // its record says where it is: the other pod goes on from there
        } catch (const Busy&) {
            co_return;  // tried again at the next round
        } catch (const http::ApiError& e) {
            failure = e.what();
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (!failure.empty()) {
            log::warn("reshard step failed",
                      {{"index", uid}, {"phase", phase}, {"error", failure}});
            // the layout says whether the copies were switched (a step may fail after it)
            const auto fleet = ctx.fleet();
            const auto* layout = fleet->topology().layout_of(uid);
            const bool switched = layout && layout->phase == "switched";
            const bool before_switch = !switched && phase != "switched" &&
                                       phase != "rolling_back" && !state.value("swapTried", false);
            json error;
            error["message"] = "The reshard of `" + uid + "` failed: " + failure;
            error["code"] = "miroir_reshard_failed";
            error["type"] = "system";
            error["link"] = "https://docs.meilisearch.com/errors#miroir_reshard_failed";
            if (before_switch) {
                co_await undo(ctx, state, "failed", error);
            } else if ((phase == "switching" && !switched) || phase == "rolling_back") {
                // the swap was tried and did not finish: both copies are kept as they are
                error["message"] = error["message"].get<std::string>() +
                                   " The swap with the shadow may have been made on some nodes: "
                                   "compare `" +
                                   uid + "` and `" + state["shadow"].get<std::string>() +
                                   "` there before use.";
                state["status"] = "failed";
                state["error"] = error;
                ctx.metrics.reshard_ended("failed");
                co_await save(ctx, state);
            } else {
                state["error"] = error;  // tried again: the copies are switched, both written
                co_await save(ctx, state);
            }
            co_return;
        }
        if (state.value("phase", std::string()) == "switched" &&
            util::unix_ms() < state.value("retainUntilMs", std::int64_t{0}) &&
            !state.value("rollbackRequested", false)) {
            co_return;
        }
        const bool held =
            co_await ctx.store.lease("reshard:" + uid, rebalancing::pod_name(), kLeaseMs);
        if (!held) co_return;
    }
}

json public_view(json state) {
    state.erase("copyStartedMs");
    state.erase("retainUntilMs");
    state.erase("copyBegun");
    return state;
}

}  // namespace

asio::awaitable<std::string> start_reshard(Context& ctx, const std::string& uid,
                                           const ReshardRequest& request) {
    const auto record = co_await scatter::lookup_index(ctx, uid);
    const auto fleet = ctx.fleet();
    if (!record || fleet->topology().is_shadow(uid)) {
        throw http::error(404, "index_not_found", "Index `" + uid + "` not found.");
    }
    if (fleet->topology().rebalancing()) {
        throw conflict("miroir_rebalance_in_progress",
                       "A rebalance is in progress; reshard once it is done.");
    }
    const auto existing_text = co_await load_text(ctx, uid);
    const auto existing = existing_text ? json::parse(*existing_text, nullptr, false) : json();
    if ((existing.is_object() && active(existing)) || fleet->shadow_of(uid)) {
        throw conflict("miroir_reshard_in_progress",
                       "Index `" + uid + "` is being resharded already (`GET /_miroir/indexes/" +
                           uid + "/reshard/status`).");
    }
    const auto shadow_name = fleet::shadow_name(uid);
    if (!fleet->topology().is_shadow(shadow_name)) {
        const auto taken = co_await scatter::lookup_index(ctx, shadow_name);
        if (taken) {
            throw conflict("miroir_reshard_name_taken", "Index `" + shadow_name +
                                                            "` exists: a reshard of `" + uid +
                                                            "` makes its shadow under that name.");
        }
    }
    const auto from = fleet->for_index(uid).shards();
    if (request.new_shards == from) {
        throw http::error(400, "miroir_invalid_reshard",
                          "Index `" + uid + "` has " + std::to_string(from) +
                              " shards already: `new_shards` must differ.");
    }
    json state;
    state["uid"] = uid;
    state["shadow"] = shadow_name;
    state["status"] = "enqueued";
    state["phase"] = "enqueued";
    state["fromShards"] = from;
    state["toShards"] = request.new_shards;
    state["throttleDocsPerSec"] = request.throttle_docs_per_sec;
    state["retainOldIndexHours"] = request.retain_old_index_hours;
    state["documentsRead"] = state["documentsCopied"] = state["documentsRepaired"] = 0;
    state["enqueuedAt"] = util::rfc3339(util::now());
    state["startedAt"] = state["switchedAt"] = state["finishedAt"] = state["error"] = nullptr;
    state["rollbackRequested"] = false;
    // over the record read above only: of two reshards asked at once, one starts
    const auto text = state.dump();
    const bool saved = co_await ctx.store.put_record_if(kTable, uid, existing_text, text);
    if (!saved) {
        throw conflict("miroir_reshard_in_progress",
                       "Index `" + uid + "` is being resharded already (`GET /_miroir/indexes/" +
                           uid + "/reshard/status`).");
    }
    co_return public_view(state).dump();
}

asio::awaitable<std::optional<std::string>> reshard_status(Context& ctx, const std::string& uid) {
    const auto state = co_await load(ctx, uid);
    if (!state) co_return std::nullopt;
    co_return public_view(*state).dump();
}

asio::awaitable<std::string> rollback_reshard(Context& ctx, const std::string& uid) {
    // stored only over the record read: a driver's save meanwhile makes it read again
    for (int attempt = 0; attempt < 20; ++attempt) {
        const auto text = co_await load_text(ctx, uid);
        auto state = text ? json::parse(*text, nullptr, false) : json();
        if (!state.is_object() || !active(state)) {
            throw conflict("miroir_reshard_not_running",
                           "Index `" + uid +
                               "` has no reshard to roll back: none runs, and a finished one "
                               "keeps no old copy.");
        }
        if (state["phase"] == "rolling_back" || state["phase"] == "switching") {
            throw conflict("miroir_reshard_in_progress",
                           "The reshard of `" + uid + "` is switching its copies; retry shortly.");
        }
        state["rollbackRequested"] = true;
        const bool saved = co_await ctx.store.put_record_if(kTable, uid, text, state.dump());
        if (saved) co_return public_view(state).dump();
    }
    throw conflict("miroir_reshard_in_progress",
                   "The reshard of `" + uid + "` is changing too fast; retry shortly.");
}

asio::awaitable<void> run_reshards(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    for (;;) {
        timer.expires_after(kTickMs);
        co_await timer.async_wait(asio::use_awaitable);
        for (const auto& [uid, text] : co_await ctx.store.records(kTable)) {
            auto state = json::parse(text, nullptr, false);
            if (!state.is_object() || !active(state)) continue;
            const bool held =
                co_await ctx.store.lease("reshard:" + uid, rebalancing::pod_name(), kLeaseMs);
            if (!held) continue;
            co_await drive(ctx, std::move(state));
        }
    }
}

}  // namespace miroir::workers
