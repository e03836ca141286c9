// The rebalancer: carries out a change of one replica group's nodes (docs/operations.md,
// "Rebalancing"). The shards whose owners change are written to old and new owners from the
// start; each is then copied, every index at once, while the write gate is closed: the source
// has applied every write it was sent, the new owners' copies of the shard are cleared, the
// source's documents of the shard are paged to them, and writes resume once the pages are
// enqueued (a node applies one index's tasks in order, so no later write is overwritten by
// the copy). When every shard is copied, reads switch to the new owners; then writes stop
// reaching the old ones and their copies are deleted. Progress is in the topology, so a
// restarted Miroir resumes; one pod at a time drives it, holding the rebalance lease.
//
// The write gate is shared by every pod through the task store: the driver writes it closed
// (with a new epoch and a deadline), every pod's gate follower closes its own gate, waits for
// its writes in flight, and acknowledges the epoch; the driver copies once every live pod
// (one that acknowledged within rebalance.lease_ms) did, then writes the gate open. A gate
// left closed by a driver that died opens by itself at its deadline; a copy that outlived its
// gate's deadline is done again.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/api/context.hpp>
#include <miroir/api/fleet.hpp>
#include <miroir/api/node_requests.hpp>
#include <miroir/api/topology.hpp>
#include <miroir/api/write_gate.hpp>
#include <miroir/config/config.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/ingest/splitter.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/node_client.hpp>
#include <miroir/util/time.hpp>

namespace miroir::api {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using Clock = std::chrono::steady_clock;

// This pod's name for the rebalance lease.
const std::string& pod_name() {
    static const std::string name = [] {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        std::random_device random;
        return std::string(host) + ":" + std::to_string(::getpid()) + ":" +
               std::to_string(random());
    }();
    return name;
}

// The rebalance was replaced or this pod lost its lease: stop without marking it failed.
struct Superseded : std::runtime_error {
    using std::runtime_error::runtime_error;
};

asio::awaitable<void> sleep_ms(std::uint32_t ms) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(ms));
    co_await timer.async_wait(asio::use_awaitable);
}

// The shared write gate, as stored: "<epoch>:<1 closed|0 open>:<deadline, unix ms>:<the
// topology version pods must have loaded>"; each pod's record: "<epoch acknowledged>:<unix ms
// of its last sign of life>:<its topology version>".
const std::string kGateTable = "gate";
const std::string kGateKey = "state";
const std::string kPodsTable = "pods";

struct GateState {
    std::uint64_t epoch = 0;
    bool closed = false;
    std::int64_t until = 0;
    std::uint64_t version = 0;
    bool holds(std::int64_t now) const { return closed && now < until; }
};

// The numbers of a record's value, split at ':' (0 where one is missing or malformed).
std::vector<std::int64_t> numbers(const std::string& text) {
    std::vector<std::int64_t> out;
    std::size_t start = 0;
    for (;;) {
        const auto colon = text.find(':', start);
        try {
            out.push_back(std::stoll(text.substr(start, colon - start)));
        } catch (const std::exception&) {
            out.push_back(0);
        }
        if (colon == std::string::npos) return out;
        start = colon + 1;
    }
}

asio::awaitable<GateState> read_gate(Context& ctx) {
    GateState gate;
    for (const auto& [key, value] : co_await ctx.store.records(kGateTable)) {
        if (key != kGateKey) continue;
        const auto n = numbers(value);
        if (n.size() != 4) continue;
        gate.epoch = static_cast<std::uint64_t>(n[0]);
        gate.closed = n[1] == 1;
        gate.until = n[2];
        gate.version = static_cast<std::uint64_t>(n[3]);
    }
    co_return gate;
}

asio::awaitable<void> write_gate(Context& ctx, const GateState& gate) {
    const auto text = std::to_string(gate.epoch) + ":" + (gate.closed ? "1" : "0") + ":" +
                      std::to_string(gate.until) + ":" + std::to_string(gate.version);
    co_await ctx.store.put_record(kGateTable, kGateKey, text);
}

// Closes every pod's write gate: returns once each live pod (a sign of life within
// rebalance.lease_ms) acknowledged it — its writes in flight done, the current topology
// loaded.
asio::awaitable<GateState> fence(Context& ctx) {
    GateState gate = co_await read_gate(ctx);
    ++gate.epoch;
    gate.closed = true;
    // long enough for a pod that died to stop counting (its last sign of life is a lease old)
    gate.until = util::unix_ms() + 2 * static_cast<std::int64_t>(ctx.config.rebalance.lease_ms);
    gate.version = ctx.fleet()->version();
    co_await write_gate(ctx, gate);
    const auto lease = static_cast<std::int64_t>(ctx.config.rebalance.lease_ms);
    for (std::uint32_t delay = 1;; delay = std::min<std::uint32_t>(delay * 2, 10)) {
        const auto now = util::unix_ms();
        std::string waiting;
        for (const auto& [pod, value] : co_await ctx.store.records(kPodsTable)) {
            const auto n = numbers(value);
            if (n.size() != 3 || now - n[1] >= lease) continue;  // gone
            if (static_cast<std::uint64_t>(n[0]) < gate.epoch ||
                static_cast<std::uint64_t>(n[2]) < gate.version) {
                waiting = pod;
            }
        }
        if (waiting.empty()) co_return gate;
        if (now + lease / 2 > gate.until) {
            const GateState open{gate.epoch, false, 0, gate.version};
            co_await write_gate(ctx, open);
            throw std::runtime_error("Miroir `" + waiting + "` did not hold its writes in time");
        }
        co_await sleep_ms(delay);
    }
}

asio::awaitable<void> unfence(Context& ctx, const GateState& gate) {
    const GateState open{gate.epoch, false, 0, gate.version};
    co_await write_gate(ctx, open);
}

// This pod's record: the epoch it acknowledges, now, its topology version.
asio::awaitable<void> sign_of_life(Context& ctx, std::uint64_t epoch) {
    const auto text = std::to_string(epoch) + ":" + std::to_string(util::unix_ms()) + ":" +
                      std::to_string(ctx.fleet()->version());
    co_await ctx.store.put_record(kPodsTable, pod_name(), text);
}

// The epoch this pod last acknowledged (its follower's only state besides the gate's).
std::atomic<std::uint64_t> acknowledged{0};

// One step of this pod's gate follower: a sign of life first (so that a driver closing the
// gate meanwhile waits for this pod), the gate read, the topology it asks for loaded, this
// pod's gate closed and drained or opened as it says, and the acknowledgement.
asio::awaitable<void> follow_gate(Context& ctx) {
    co_await sign_of_life(ctx, acknowledged.load());
    const auto gate = co_await read_gate(ctx);
    if (gate.version > ctx.fleet()->version()) {
        if (const auto text = co_await ctx.store.topology()) {
            install_topology(ctx, Topology::parse(*text));
        }
    }
    ctx.writes.follow(gate.holds(util::unix_ms()));
    auto last_sign = Clock::now();
    while (!ctx.writes.drained()) {
        if (Clock::now() - last_sign >
            std::chrono::milliseconds(ctx.config.rebalance.lease_ms / 3)) {
            co_await sign_of_life(ctx, acknowledged.load());  // still draining, still alive
            last_sign = Clock::now();
        }
        co_await sleep_ms(2);
    }
    acknowledged = gate.epoch;
    co_await sign_of_life(ctx, gate.epoch);
}

asio::awaitable<void> follow_gate_forever(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    auto last_read = Clock::now();
    for (std::uint64_t turn = 0;; ++turn) {
        const bool busy = ctx.fleet()->topology().rebalancing();
        timer.expires_after(std::chrono::milliseconds(
            busy ? ctx.config.rebalance.gate_poll_ms : ctx.config.rebalance.topology_poll_ms));
        co_await timer.async_wait(asio::use_awaitable);
        std::string error;
        try {
            co_await follow_gate(ctx);
            last_read = Clock::now();
            if (turn % 1000 == 0) {  // forget pods gone for an hour
                const auto now = util::unix_ms();
                for (const auto& [pod, value] : co_await ctx.store.records(kPodsTable)) {
                    const auto n = numbers(value);
                    if (n.size() < 2 || now - n[1] > 3600 * 1000) {
                        co_await ctx.store.erase_record(kPodsTable, pod);
                    }
                }
            }
        } catch (const std::exception& e) {
            error = e.what();
        }
        if (error.empty()) continue;
        log::warn("write gate not followed", {{"error", error}});
        // a pod that cannot read the gate for half a lease may be one a driver no longer
        // waits for: it holds its writes until it reads the gate again
        if (Clock::now() - last_read >
            std::chrono::milliseconds(ctx.config.rebalance.lease_ms / 2)) {
            ctx.writes.follow(true);
        }
    }
}

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
    for (const auto& m : routing::plan_moves(r.before, r.after, t.shards, t.replication_factor)) {
        ++r.shards_moving;
        r.copies_moved += m.gained.size();
    }
    r.minimum_copies = routing::minimum_moves(r.before, r.after, t.shards, t.replication_factor);
    return r;
}

// Applies `change` to the rebalance `id` in the stored topology; Superseded when it is gone.
asio::awaitable<std::shared_ptr<const Fleet>> advance(Context& ctx, std::uint64_t id,
                                                      std::function<void(Rebalance&)> change) {
    std::function<void(Topology&)> apply = [id, change = std::move(change)](Topology& t) {
        if (!t.rebalance || t.rebalance->id != id) throw Superseded("the rebalance was replaced");
        change(*t.rebalance);
    };
    co_return co_await change_topology(ctx, std::move(apply));
}

// One request to one node; the answer's JSON body, or an exception naming the node.
asio::awaitable<json> call(Context& ctx, std::size_t slot, upstream::UpstreamRequest request,
                           unsigned& status) {
    const auto timeout = std::chrono::milliseconds(ctx.config.upstream.write_timeout_ms);
    auto result = co_await ctx.nodes[slot]->send(std::move(request), timeout);
    if (!result) {
        throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) +
                                 "` did not answer: " + result.error().message());
    }
    status = result->status;
    co_return json::parse(result->body, nullptr, false);
}

// A request that must be enqueued (202); its node task uid.
asio::awaitable<std::uint64_t> enqueue(Context& ctx, std::size_t slot,
                                       upstream::UpstreamRequest request) {
    unsigned status = 0;
    const auto target = request.target;
    const auto body = co_await call(ctx, slot, std::move(request), status);
    if (status != 202 || !body.is_object() || !body.contains("taskUid")) {
        throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) + "` refused " + target +
                                 " (" + std::to_string(status) + "): " + body.dump());
    }
    co_return body["taskUid"].get<std::uint64_t>();
}

using NodeTasks = std::vector<std::pair<std::size_t, std::uint64_t>>;

// Waits for node tasks to finish; throws when one did not succeed.
asio::awaitable<void> wait_tasks(Context& ctx, const NodeTasks& tasks) {
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(ctx.config.rebalance.task_timeout_ms);
    for (const auto& [slot, uid] : tasks) {
        for (std::uint32_t delay = 2;; delay = std::min<std::uint32_t>(delay * 2, 200)) {
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

// Waits until `slot` has applied every task of index `uid` it was given.
asio::awaitable<void> wait_idle(Context& ctx, std::size_t slot, const std::string& uid) {
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(ctx.config.rebalance.task_timeout_ms);
    const auto target =
        "/tasks?limit=1&statuses=enqueued,processing&indexUids=" + http::percent_encode(uid);
    for (std::uint32_t delay = 1;; delay = std::min<std::uint32_t>(delay * 2, 50)) {
        unsigned status = 0;
        const auto page = co_await call(ctx, slot, node_request(Method::get, target), status);
        if (status != 200 || !page.is_object()) {
            throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) +
                                     "` did not list its tasks (" + std::to_string(status) + ")");
        }
        const auto results = page.value("results", json::array());
        if (results.empty()) co_return;
        if (Clock::now() > deadline) {
            throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) + "` kept tasks of `" +
                                     uid + "` pending");
        }
        co_await sleep_ms(delay);
    }
}

// An index to move: its uid and primary key, and the node its settings come from.
struct IndexToMove {
    std::string uid;
    std::optional<std::string> primary_key;
    json settings;
};

std::vector<std::size_t> slots_of(const Fleet& fleet, const std::vector<std::string>& ids) {
    std::vector<std::size_t> out;
    for (const auto& id : ids) out.push_back(*fleet.topology().slot(id));
    return out;
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

// The indexes of the fleet, with the primary key and settings of each, from the nodes that
// hold documents now.
asio::awaitable<std::vector<IndexToMove>> indexes_to_move(Context& ctx, const Fleet& fleet,
                                                          const Rebalance& r) {
    std::vector<std::size_t> holders;
    for (const auto& group : fleet.groups()) {
        for (auto n : group.nodes) holders.push_back(n);
    }
    for (auto n : slots_of(fleet, r.before)) holders.push_back(n);
    std::map<std::string, std::size_t> found;  // index uid → a node that has it
    for (auto n : holders) {
        if (!ctx.health.usable(n)) continue;
        unsigned status = 0;
        auto list =
            co_await call(ctx, n, node_request(Method::get, "/indexes?limit=100000"), status);
        if (status != 200 || !list.is_object()) continue;
        for (const auto& index : list.value("results", json::array())) {
            if (index.contains("uid") && index["uid"].is_string()) {
                found.emplace(index["uid"].get<std::string>(), n);
            }
        }
    }
    std::vector<IndexToMove> out;
    for (const auto& [uid, n] : found) {
        IndexToMove index{uid, std::nullopt, json()};
        unsigned status = 0;
        const auto described =
            co_await call(ctx, n, node_request(Method::get, index_path(uid)), status);
        if (status == 200 && described.value("primaryKey", json()).is_string()) {
            index.primary_key = described["primaryKey"].get<std::string>();
        }
        index.settings =
            co_await call(ctx, n, node_request(Method::get, index_path(uid) + "/settings"), status);
        if (status != 200 || !index.settings.is_object()) {
            throw std::runtime_error("node `" + fleet.node_id(n) +
                                     "` did not give the settings of `" + uid + "`");
        }
        out.push_back(std::move(index));
    }
    co_return out;
}

// Creates each index on the nodes that gain shards, with the source's primary key and
// settings (the copies enqueued next run after both).
asio::awaitable<void> prepare(Context& ctx, const std::vector<std::size_t>& gaining,
                              const std::vector<IndexToMove>& indexes) {
    for (const auto& index : indexes) {
        json create;
        create["uid"] = index.uid;
        create["primaryKey"] = index.primary_key ? json(*index.primary_key) : json(nullptr);
        const auto create_body = create.dump();
        const auto settings_body = index.settings.dump();
        for (auto n : gaining) {
            unsigned status = 0;
            co_await call(ctx, n, node_request(Method::post, "/indexes", create_body), status);
            co_await enqueue(
                ctx, n,
                node_request(Method::patch, index_path(index.uid) + "/settings", settings_body));
        }
    }
}

// Renews this pod's lease; Superseded when another pod holds it.
const std::string kLease = "rebalance";

asio::awaitable<void> keep_lease(Context& ctx) {
    const bool held = co_await ctx.store.lease(kLease, pod_name(), ctx.config.rebalance.lease_ms);
    if (!held) throw Superseded("another Miroir drives the rebalance");
}

// Keeps the write gate from opening at its deadline during a long copy; once the deadline
// passed (`expired`), the copy is not trusted: writes may have landed meanwhile. (Awaited at
// once by its callers, whose frames hold `gate` and `expired`.)
asio::awaitable<void> extend_gate(Context& ctx, GateState& gate, bool& expired) {
    const auto now = util::unix_ms();
    if (now >= gate.until) expired = true;
    if (expired || gate.until - now >= static_cast<std::int64_t>(ctx.config.rebalance.lease_ms)) {
        co_return;
    }
    gate.until = now + 2 * static_cast<std::int64_t>(ctx.config.rebalance.lease_ms);
    co_await write_gate(ctx, gate);
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
    clear["filter"] = ingest::shard_filter({shard});
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
        fetch["filter"] = ingest::shard_filter({shard});
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

// Copies shards of `moves` from `next` on, every index, to their new owners under one closing
// of the write gate: shard after shard until a page's worth of documents was copied, so that
// small shards share one hold of the writes and a large one holds them alone. Each source
// applies the tasks it was given before its documents are read. The node tasks of the copy go
// to `tasks` (a node applies one index's tasks in order, so later copies need not wait for
// them, and the nodes batch consecutive additions). The shards copied, with their documents.
asio::awaitable<std::vector<std::pair<std::uint32_t, std::uint64_t>>> copy_shards(
    Context& ctx, const Fleet& fleet, const Rebalance& r,
    const std::vector<routing::ShardMove>& moves, std::size_t next,
    const std::vector<IndexToMove>& indexes, NodeTasks& tasks) {
    auto gate = co_await fence(ctx);
    bool expired = false;
    std::vector<std::pair<std::uint32_t, std::uint64_t>> copied;
    std::set<std::pair<std::size_t, std::string>> idle;  // (source, index) seen idle
    std::uint64_t in_gate = 0;
    std::exception_ptr failure;
    bool superseded = false;
    try {
        for (; next < moves.size() && in_gate < ctx.config.rebalance.page_size; ++next) {
            const auto& move = moves[next];
            const auto from = sources(ctx, fleet, r, move.shard);
            if (from.empty() || !ctx.health.usable(from.front())) {
                throw std::runtime_error("no node holding shard " + std::to_string(move.shard) +
                                         " is up to copy it from");
            }
            const auto source = from.front();
            const auto to = slots_of(fleet, move.gained);
            std::uint64_t documents = 0;
            for (const auto& index : indexes) {
                co_await extend_gate(ctx, gate, expired);
                if (idle.emplace(source, index.uid).second) {
                    co_await wait_idle(ctx, source, index.uid);
                    co_await extend_gate(ctx, gate, expired);
                }
                documents += co_await copy_index_shard(ctx, fleet, source, to, move.shard, index,
                                                       tasks, gate, expired);
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

void report(Context& ctx, const Rebalance& r, bool running) {
    ctx.metrics.rebalance_progress(running, r.shards_moving, r.copied.size());
}

asio::awaitable<void> copy_all(Context& ctx, Rebalance r) {
    const auto fleet = ctx.fleet();
    const auto rf = fleet->topology().replication_factor;
    const auto moves = routing::plan_moves(r.before, r.after, fleet->shards(), rf);
    std::set<std::string> gaining_ids;
    for (const auto& m : moves) gaining_ids.insert(m.gained.begin(), m.gained.end());
    const auto gaining =
        slots_of(*fleet, std::vector<std::string>(gaining_ids.begin(), gaining_ids.end()));
    const auto indexes = co_await indexes_to_move(ctx, *fleet, r);
    co_await prepare(ctx, gaining, indexes);
    std::set<std::uint32_t> copied(r.copied.begin(), r.copied.end());
    // every copy's tasks, waited for before reads may switch; after a restart, the copies made
    // before it are behind each gaining node's latest task (a node applies its tasks in order)
    NodeTasks tasks;
    if (!copied.empty()) {
        for (auto slot : gaining) {
            if (auto latest = co_await latest_task(ctx, slot)) tasks.emplace_back(slot, *latest);
        }
    }
    std::vector<routing::ShardMove> pending;
    for (const auto& move : moves) {
        if (!copied.contains(move.shard)) pending.push_back(move);
    }
    for (std::size_t next = 0; next < pending.size();) {
        co_await keep_lease(ctx);
        const auto done = co_await copy_shards(ctx, *fleet, r, pending, next, indexes, tasks);
        next += done.size();
        std::uint64_t documents = 0;
        for (const auto& shard_documents : done) documents += shard_documents.second;
        ctx.metrics.rebalance_documents_copied(documents);
        std::function<void(Rebalance&)> progress = [done](Rebalance& b) {
            for (const auto& [shard, count] : done) {
                b.copied.push_back(shard);
                b.documents_copied += count;
            }
        };
        const auto now = co_await advance(ctx, r.id, std::move(progress));
        r = *now->topology().rebalance;
        report(ctx, r, true);
        if (ctx.config.rebalance.pause_ms) co_await sleep_ms(ctx.config.rebalance.pause_ms);
    }
    co_await wait_tasks(ctx, tasks);
}

// Deletes the moved shards from the nodes that lost them.
asio::awaitable<void> clean(Context& ctx, const Rebalance& r) {
    const auto fleet = ctx.fleet();
    const auto rf = fleet->topology().replication_factor;
    std::map<std::string, std::vector<std::uint32_t>> lost;
    for (const auto& m : routing::plan_moves(r.before, r.after, fleet->shards(), rf)) {
        for (const auto& id : m.lost) lost[id].push_back(m.shard);
    }
    if (lost.empty()) co_return;
    const auto indexes = co_await indexes_to_move(ctx, *fleet, r);
    NodeTasks tasks;
    for (const auto& [id, shards] : lost) {
        const auto slot = *fleet->topology().slot(id);
        const bool leaves = std::find(r.after.begin(), r.after.end(), id) == r.after.end();
        if (!ctx.health.usable(slot)) {
            // a node that stays must lose its old copies before reads may ask it unrestricted
            if (!leaves)
                throw std::runtime_error("node `" + id +
                                         "` is down; its moved shards are not deleted yet");
            log::warn("rebalance: a node that leaves is down, its copies stay",
                      {{"node", id}, {"shards", static_cast<std::int64_t>(shards.size())}});
            continue;
        }
        json body;
        body["filter"] = ingest::shard_filter(shards);
        const auto text = body.dump();
        for (const auto& index : indexes) {
            auto request =
                node_request(Method::post, index_path(index.uid) + "/documents/delete", text);
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
            if (t.rebalance && t.rebalance->phase == "done" && unbalanced_group(t)) {
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
                co_await advance(ctx, r.id, std::move(resume));
            }
            log::info("rebalance copying",
                      {{"id", static_cast<std::int64_t>(r.id)},
                       {"group", r.group},
                       {"shards", static_cast<std::int64_t>(r.shards_moving)},
                       {"copied", static_cast<std::int64_t>(r.copied.size())}});
            report(ctx, r, true);
            co_await copy_all(ctx, r);
            std::function<void(Rebalance&)> to_switched = [](Rebalance& b) {
                b.phase = "switched";
            };
            co_await advance(ctx, r.id, std::move(to_switched));
            log::info("rebalance switched reads", {{"id", static_cast<std::int64_t>(r.id)}});
        } else if (r.phase == "switched") {
            co_await settle(ctx);
            std::function<void(Rebalance&)> to_cleaning = [](Rebalance& b) {
                b.phase = "cleaning";
            };
            co_await advance(ctx, r.id, std::move(to_cleaning));
        } else if (r.phase == "cleaning") {
            co_await settle(ctx);
            co_await clean(ctx, r);
            const auto group = r.group;
            const auto after = r.after;
            std::function<void(Topology&)> finish = [group, after, id = r.id](Topology& topology) {
                if (!topology.rebalance || topology.rebalance->id != id) {
                    throw Superseded("the rebalance was replaced");
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
            if (held) co_await drive(ctx);
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
                if (!b.switched()) b.phase = "failed";
                b.error = error;
            };
            co_await advance(ctx, id, std::move(failed));
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
    j["shardsCopied"] = r.copied.size();
    j["copiesMoved"] = r.copies_moved;
    j["minimumCopies"] = std::round(r.minimum_copies * 100) / 100;
    j["documentsCopied"] = r.documents_copied;
    j["startedAt"] = r.started_at;
    j["finishedAt"] = r.finished_at ? json(r.finished_at) : json(nullptr);
    j["error"] = r.error.empty() ? json(nullptr) : json(r.error);
    return j;
}

}  // namespace

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

void start_rebalancer(Context& ctx) {
    asio::co_spawn(ctx.executor, follow_gate_forever(ctx), asio::detached);
    asio::co_spawn(ctx.executor, rebalance_forever(ctx), asio::detached);
}

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

}  // namespace miroir::api
