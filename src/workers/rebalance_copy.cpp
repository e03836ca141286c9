// The copy of the moving shards: the indexes prepared on the nodes that gain shards, each
// shard paged from a node holding it to its new owners under the closed write gate, the old
// owners' copies deleted at the end (see rebalance.cpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <tuple>
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
#include <miroir/scatter/hints.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/node_client.hpp>
#include <miroir/util/time.hpp>

#include "anti_entropy.hpp"
#include "rebalance.hpp"

namespace miroir::workers::rebalancing {

using namespace miroir::fleet;
using namespace miroir::scatter;
namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using Clock = std::chrono::steady_clock;

namespace {

// Waits for node tasks to finish; throws when one did not succeed.
asio::awaitable<void> wait_tasks(Context& ctx, const NodeTasks& tasks) {
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(ctx.config.rebalance.task_timeout_ms);
    LeaseKeeper lease(ctx);
    for (const auto& [slot, uid] : tasks) {
        for (std::uint32_t delay = 2;; delay = std::min<std::uint32_t>(delay * 2, 200)) {
            co_await lease.tick();
            unsigned status = 0;
            const auto task = co_await call(
                ctx, slot, node_request(Method::get, "/tasks/" + std::to_string(uid)), status);
            const auto state = task.is_object() ? task.value("status", std::string()) : "";
            if (state == "succeeded") break;
            if (state == "failed" || state == "canceled") {
                throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) + "` task " +
                                         std::to_string(uid) + " " + state + ": " +
                                         task.value("error", json()).dump());
            }
            if (Clock::now() > deadline) {
                throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) + "` task " +
                                         std::to_string(uid) + " did not finish in time");
            }
            co_await sleep_ms(delay);
        }
    }
}

// The uid of the newest task `slot` was given, if any.
asio::awaitable<std::optional<std::uint64_t>> latest_task(Context& ctx, std::size_t slot) {
    unsigned status = 0;
    const auto page = co_await call(ctx, slot, node_request(Method::get, "/tasks?limit=1"), status);
    if (status != 200 || !page.is_object() || !page.contains("results") ||
        page["results"].empty()) {
        co_return std::nullopt;
    }
    const auto& uid = page["results"][0]["uid"];
    if (!uid.is_number_unsigned()) co_return std::nullopt;
    co_return uid.get<std::uint64_t>();
}

// Waits, with the writes flowing, until each of `slots` applied the tasks of `indexes` it had
// been given when asked, and again while that took longer than half a lease (the writes kept
// coming): the wait under the closed gate is then only for the writes of the last round.
asio::awaitable<void> catch_up(Context& ctx, const std::set<std::size_t>& slots,
                               const std::vector<IndexToMove>& indexes) {
    const auto quick = std::chrono::milliseconds(ctx.config.rebalance.lease_ms / 2);
    for (int round = 0; round < 5; ++round) {
        const auto started = Clock::now();
        NodeTasks tasks;
        for (auto slot : slots) {
            for (const auto& index : indexes) {
                if (auto uid = co_await pending_task(ctx, slot, index.uid)) {
                    tasks.emplace_back(slot, *uid);
                }
            }
        }
        co_await wait_tasks(ctx, tasks);
        if (Clock::now() - started < quick) co_return;
    }
}

// Waits until `slot` has applied every task of index `uid` it was given, keeping the closed
// `gate` closed meanwhile (a node may take longer than one hold to apply a backlog).
asio::awaitable<void> wait_idle(Context& ctx, std::size_t slot, const std::string& uid,
                                GateState& gate, bool& expired) {
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(ctx.config.rebalance.task_timeout_ms);
    LeaseKeeper lease(ctx);
    for (std::uint32_t delay = 1;; delay = std::min<std::uint32_t>(delay * 2, 50)) {
        co_await lease.tick();
        co_await extend_gate(ctx, gate, expired);
        if (expired) {
            throw std::runtime_error("the write gate opened by itself while node `" +
                                     ctx.fleet()->node_id(slot) + "` applied its tasks of `" + uid +
                                     "`");
        }
        const auto pending = co_await pending_task(ctx, slot, uid);
        if (!pending) co_return;
        if (Clock::now() > deadline) {
            throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) + "` kept tasks of `" +
                                     uid + "` pending");
        }
        co_await sleep_ms(delay);
    }
}

// Nodes that hold the documents of `shard` now, usable ones first: the group's old owners, or,
// for a group filled for the first time, the owners in the other readable groups.
std::vector<std::size_t> sources(const Context& ctx, const Fleet& fleet, const Rebalance& r,
                                 std::uint32_t shard) {
    std::vector<std::size_t> out;
    if (!r.before.empty()) {
        const auto rf = fleet.topology().replication_factor;
        out = slots_of(fleet, routing::owners(shard, r.before, rf));
    } else {
        for (const auto& group : fleet.groups()) {
            if (group.id == r.group) continue;
            for (auto n : fleet.owners(group, shard)) out.push_back(n);
        }
    }
    std::stable_partition(out.begin(), out.end(),
                          [&ctx](std::size_t n) { return ctx.health.usable(n); });
    return out;
}

// One shard's documents of one index, paged from `source` into the new owners `to` after
// clearing what they hold of it, under the closed `gate`; the node tasks go to `tasks`. The
// documents copied.
asio::awaitable<std::uint64_t> copy_index_shard(Context& ctx, const Fleet& fleet,
                                                std::size_t source,
                                                const std::vector<std::size_t>& to,
                                                std::uint32_t shard, const IndexToMove& index,
                                                NodeTasks& tasks, GateState& gate, bool& expired) {
    const auto page_size = ctx.config.rebalance.page_size;
    json clear;
    clear["filter"] = routing::shard_filter({shard});
    const auto clear_body = clear.dump();
    for (auto n : to) {
        auto request =
            node_request(Method::post, index_path(index.uid) + "/documents/delete", clear_body);
        tasks.emplace_back(n, co_await enqueue(ctx, n, std::move(request)));
    }
    std::string add = index_path(index.uid) + "/documents";
    if (index.primary_key) add += "?primaryKey=" + http::percent_encode(*index.primary_key);
    std::uint64_t documents = 0;
    for (std::uint64_t offset = 0;; offset += page_size) {
        json fetch;
        fetch["filter"] = routing::shard_filter({shard});
        fetch["offset"] = offset;
        fetch["limit"] = page_size;
        fetch["retrieveVectors"] = true;
        unsigned status = 0;
        const auto page = co_await call(
            ctx, source,
            node_request(Method::post, index_path(index.uid) + "/documents/fetch", fetch.dump()),
            status);
        if (status == 404) break;  // the source lacks this index: nothing to copy
        if (status != 200 || !page.is_object()) {
            throw std::runtime_error("node `" + fleet.node_id(source) +
                                     "` did not give the documents of shard " +
                                     std::to_string(shard) + " of `" + index.uid + "` (" +
                                     std::to_string(status) + "): " + page.dump());
        }
        const auto results = page.value("results", json::array());
        if (results.empty()) break;
        const auto body = results.dump();
        for (auto n : to) {
            auto request = node_request(Method::post, add, body);
            tasks.emplace_back(n, co_await enqueue(ctx, n, std::move(request)));
        }
        documents += results.size();
        if (results.size() < page_size) break;
        co_await keep_lease(ctx);
        co_await extend_gate(ctx, gate, expired);
    }
    co_return documents;
}

// The (node, index, shard) copies that hints say missed writes: never a copy's source.
asio::awaitable<std::set<std::tuple<std::string, std::string, std::uint32_t>>> hinted_copies(
    Context& ctx) {
    std::set<std::tuple<std::string, std::string, std::uint32_t>> out;
    const auto records = co_await ctx.store.records(kHintTable);
    for (const auto& [key, text] : records) {
        const auto hint = decode_hint(key, text);
        if (!hint) continue;
        for (auto shard : hint->shards) out.emplace(hint->node, hint->index, shard);
    }
    co_return out;
}

// The sources of `shard` a copy may read of index `uid`: those up that missed no write of it
// (no hint pending), in `from`'s order; the first of `from` when there are none.
std::vector<std::size_t> agreeing_sources(
    const Context& ctx, const Fleet& fleet, const std::vector<std::size_t>& from,
    const std::string& uid, std::uint32_t shard,
    const std::set<std::tuple<std::string, std::string, std::uint32_t>>& hinted) {
    std::vector<std::size_t> out;
    for (auto n : from) {
        if (ctx.health.usable(n) && !hinted.contains({fleet.node_id(n), uid, shard})) {
            out.push_back(n);
        }
    }
    if (out.empty() && !from.empty()) out.push_back(from.front());
    return out;
}

using Disagreements = std::map<std::pair<std::uint32_t, std::string>, anti_entropy::Suspects>;

// Compares by digests the sources of the shards of `moves` from `next` on, while writes flow,
// until about a page's worth of documents: the ids that differ go to `disagree` by (shard,
// index), to be settled under the gate. The end of the moves compared.
asio::awaitable<std::size_t> compare_sources(
    Context& ctx, const Fleet& fleet, const Rebalance& r,
    const std::vector<routing::ShardMove>& moves, std::size_t next,
    const std::vector<IndexToMove>& indexes,
    const std::set<std::tuple<std::string, std::string, std::uint32_t>>& hinted,
    Disagreements& disagree) {
    std::size_t compared = next;
    for (std::uint64_t estimated = 0;
         compared < moves.size() && estimated < ctx.config.rebalance.page_size; ++compared) {
        co_await keep_lease(ctx);
        const auto shard = moves[compared].shard;
        const auto from = sources(ctx, fleet, r, shard);
        for (const auto& index : indexes) {
            const auto agreeing = agreeing_sources(ctx, fleet, from, index.uid, shard, hinted);
            if (!index.primary_key || agreeing.size() < 2) continue;
            anti_entropy::Throttle unthrottled(0);
            anti_entropy::Counts counts;
            anti_entropy::Suspects suspects;
            co_await anti_entropy::compare_shard(ctx, index.uid, *index.primary_key, shard,
                                                 agreeing, unthrottled, counts, suspects);
            estimated += counts.documents_read / agreeing.size();
            if (!suspects.empty()) disagree[{shard, index.uid}] = std::move(suspects);
        }
    }
    co_return compared;
}

// Copies shards of `moves` from `next` on, every index, to their new owners under one closing
// of the write gate: shard after shard until a page's worth of documents was copied, so that
// small shards share one hold of the writes and a large one holds them alone. Each source
// catches up on its backlog before the gate closes, and applies the tasks it was given before
// its documents are read. A shard's sources are compared by digests before the gate closes
// and what differs among them is repaired under it, before the copy from the first of them.
// The node tasks of the copy go to `tasks` (a node applies one index's tasks in order, so later
// copies need not wait for them, and the nodes batch consecutive additions). The shards copied,
// with their documents.
asio::awaitable<std::vector<std::pair<std::uint32_t, std::uint64_t>>> copy_shards(
    Context& ctx, const Fleet& fleet, const Rebalance& r,
    const std::vector<routing::ShardMove>& moves, std::size_t next,
    const std::vector<IndexToMove>& indexes, NodeTasks& tasks) {
    std::set<std::size_t> readable;  // the sources this hold may read
    for (auto i = next; i < moves.size(); ++i) {
        for (auto n : sources(ctx, fleet, r, moves[i].shard)) {
            if (ctx.health.usable(n)) readable.insert(n);
        }
    }
    const auto hinted = co_await hinted_copies(ctx);
    co_await catch_up(ctx, readable, indexes);
    // the shards this hold may copy whose sources' digests differ, found while writes flow
    Disagreements disagree;
    const auto compared =
        co_await compare_sources(ctx, fleet, r, moves, next, indexes, hinted, disagree);
    auto gate = co_await fence(ctx);
    bool expired = false;
    std::vector<std::pair<std::uint32_t, std::uint64_t>> copied;
    std::set<std::pair<std::size_t, std::string>> idle;  // (source, index) seen idle
    std::uint64_t in_gate = 0;
    std::exception_ptr failure;
    bool superseded = false;
    LeaseKeeper lease(ctx);  // one hold may copy many small shards
    try {
        // every source applies what it was given before the copy gives any of them tasks
        for (auto slot : readable) {
            for (const auto& index : indexes) {
                co_await wait_idle(ctx, slot, index.uid, gate, expired);
                idle.emplace(slot, index.uid);
            }
        }
        for (; next < compared && in_gate < ctx.config.rebalance.page_size; ++next) {
            co_await lease.tick();
            const auto& move = moves[next];
            const auto from = sources(ctx, fleet, r, move.shard);
            if (from.empty() || !ctx.health.usable(from.front())) {
                throw std::runtime_error("no node holding shard " + std::to_string(move.shard) +
                                         " is up to copy it from");
            }
            const auto to = slots_of(fleet, move.gained);
            std::uint64_t documents = 0;
            for (const auto& index : indexes) {
                co_await extend_gate(ctx, gate, expired);
                const auto agreeing =
                    agreeing_sources(ctx, fleet, from, index.uid, move.shard, hinted);
                for (auto n : agreeing) {
                    if (idle.emplace(n, index.uid).second) {
                        co_await wait_idle(ctx, n, index.uid, gate, expired);
                    }
                }
                const auto differing = disagree.find({move.shard, index.uid});
                if (differing != disagree.end()) {
                    co_await anti_entropy::settle_sources(ctx, index.uid, *index.primary_key,
                                                          differing->second, agreeing, gate,
                                                          expired);
                }
                documents += co_await copy_index_shard(ctx, fleet, agreeing.front(), to, move.shard,
                                                       index, tasks, gate, expired);
            }
            copied.emplace_back(move.shard, documents);
            in_gate += documents;
        }
    } catch (const Superseded&) {
        failure = std::current_exception();
        superseded = true;  // another pod drives now: the gate is its
    } catch (...) {
        failure = std::current_exception();
    }
    if (util::unix_ms() >= gate.until) expired = true;
    if (!superseded) co_await unfence(ctx, gate);
    if (failure) std::rethrow_exception(failure);
    if (expired) {
        throw std::runtime_error("the write gate opened by itself during a copy of " +
                                 std::to_string(copied.size()) + " shards; they are copied again");
    }
    co_return copied;
}

}  // namespace

namespace {

// The shards of one shard count a rebalance moves, with the indexes routed with that count.
struct CountMoves {
    std::uint32_t shards = 0;
    std::vector<routing::ShardMove> moves;
    std::vector<IndexToMove> indexes;
};

std::vector<CountMoves> moves_by_count(const Topology& t, const Rebalance& r,
                                       const std::vector<IndexToMove>& indexes) {
    std::vector<CountMoves> out;
    for (const auto count : t.shard_counts()) {
        CountMoves c{
            count, routing::plan_moves(r.before, r.after, count, t.replication_factor), {}};
        for (const auto& index : indexes) {
            if (t.shards_on_nodes(index.uid) == count) c.indexes.push_back(index);
        }
        out.push_back(std::move(c));
    }
    return out;
}

// The shards of the indexes with `count` shards `r` has copied.
std::vector<std::uint32_t>& copied_of(Rebalance& r, std::uint32_t count, std::uint32_t fleet) {
    return count == fleet ? r.copied : r.copied_by_count[count];
}

}  // namespace

asio::awaitable<void> copy_all(Context& ctx, Rebalance r) {
    const auto fleet = ctx.fleet();
    const auto& t = fleet->topology();
    const auto indexes = co_await indexes_to_move(ctx, *fleet, r);
    const auto counts = moves_by_count(t, r, indexes);
    std::set<std::string> gaining_ids;
    for (const auto& c : counts) {
        for (const auto& m : c.moves) gaining_ids.insert(m.gained.begin(), m.gained.end());
    }
    const auto gaining =
        slots_of(*fleet, std::vector<std::string>(gaining_ids.begin(), gaining_ids.end()));
    co_await prepare(ctx, gaining, indexes);
    // every copy's tasks, waited for before reads may switch; after a restart, the copies made
    // before it are behind each gaining node's latest task (a node applies its tasks in order)
    NodeTasks tasks;
    if (r.shards_copied() > 0) {
        for (auto slot : gaining) {
            if (auto latest = co_await latest_task(ctx, slot)) tasks.emplace_back(slot, *latest);
        }
    }
    // each shard count's shards, copied with the indexes routed with it
    for (const auto& c : counts) {
        const auto& routed = fleet->with_shards(c.shards);
        const auto& done_before = copied_of(r, c.shards, t.shards);
        const std::set<std::uint32_t> copied(done_before.begin(), done_before.end());
        std::vector<routing::ShardMove> pending;
        for (const auto& move : c.moves) {
            if (!copied.contains(move.shard)) pending.push_back(move);
        }
        for (std::size_t next = 0; next < pending.size();) {
            co_await keep_lease(ctx);
            const auto done = co_await copy_shards(ctx, routed, r, pending, next, c.indexes, tasks);
            next += done.size();
            std::uint64_t documents = 0;
            for (const auto& shard_documents : done) documents += shard_documents.second;
            ctx.metrics.rebalance_documents_copied(documents);
            std::function<void(Rebalance&)> progress = [done, count = c.shards,
                                                        fleet_shards = t.shards](Rebalance& b) {
                auto& list = copied_of(b, count, fleet_shards);
                for (const auto& [shard, shard_documents] : done) {
                    list.push_back(shard);
                    b.documents_copied += shard_documents;
                }
            };
            const auto now = co_await advance(ctx, r.id, "copying", std::move(progress));
            r = *now->topology().rebalance;
            report(ctx, r, true);
            if (ctx.config.rebalance.pause_ms) co_await sleep_ms(ctx.config.rebalance.pause_ms);
        }
    }
    co_await wait_tasks(ctx, tasks);
}

// Deletes the moved shards from the nodes that lost them, each index's by its shard count.
asio::awaitable<void> clean(Context& ctx, const Rebalance& r) {
    const auto fleet = ctx.fleet();
    const auto indexes = co_await indexes_to_move(ctx, *fleet, r);
    // node id → (index, the shards of it the node lost)
    std::map<std::string, std::vector<std::pair<const IndexToMove*, std::vector<std::uint32_t>>>>
        lost;
    for (const auto& c : moves_by_count(fleet->topology(), r, indexes)) {
        std::map<std::string, std::vector<std::uint32_t>> shards_lost;
        for (const auto& m : c.moves) {
            for (const auto& id : m.lost) shards_lost[id].push_back(m.shard);
        }
        for (const auto& [id, shards] : shards_lost) {
            for (const auto& index : indexes) {
                if (fleet->topology().shards_on_nodes(index.uid) == c.shards) {
                    lost[id].emplace_back(&index, shards);
                }
            }
        }
    }
    NodeTasks tasks;
    for (const auto& [id, deletions] : lost) {
        const auto slot = *fleet->topology().slot(id);
        const bool leaves = std::find(r.after.begin(), r.after.end(), id) == r.after.end();
        if (!ctx.health.usable(slot)) {
            // a node that stays must lose its old copies before reads may ask it unrestricted
            if (!leaves)
                throw std::runtime_error("node `" + id +
                                         "` is down; its moved shards are not deleted yet");
            log::warn("rebalance: a node that leaves is down, its copies stay",
                      {{"node", id}, {"indexes", static_cast<std::int64_t>(deletions.size())}});
            continue;
        }
        for (const auto& [index, shards] : deletions) {
            json body;
            body["filter"] = routing::shard_filter(shards);
            auto request = node_request(Method::post, index_path(index->uid) + "/documents/delete",
                                        body.dump());
            unsigned status = 0;
            const auto answer = co_await call(ctx, slot, std::move(request), status);
            if (status == 404) continue;  // the node has no such index
            if (status != 202) {
                throw std::runtime_error("node `" + id + "` refused to delete moved shards (" +
                                         std::to_string(status) + "): " + answer.dump());
            }
            tasks.emplace_back(slot, answer["taskUid"].get<std::uint64_t>());
        }
    }
    co_await wait_tasks(ctx, tasks);
}

}  // namespace miroir::workers::rebalancing
