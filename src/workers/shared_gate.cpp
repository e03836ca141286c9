// The write gate shared by every pod through the task store, and the rebalance lease (see
// rebalance.cpp for how a rebalance uses them).
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
#include <miroir/fleet/pods.hpp>
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

#include "rebalance.hpp"

namespace miroir::workers::rebalancing {

using namespace miroir::fleet;
using namespace miroir::scatter;
namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using Clock = std::chrono::steady_clock;

namespace {

// The shared write gate, as stored: "<epoch>:<1 closed|0 open>:<deadline, unix ms>:<the
// topology version pods must have loaded>:<1 reads of resharded indexes held too|0>"; each
// pod's record is a fleet::PodSign.
const std::string kGateTable = "gate";
const std::string kGateKey = "state";

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
        if (n.size() != 4 && n.size() != 5) continue;
        gate.epoch = static_cast<std::uint64_t>(n[0]);
        gate.closed = n[1] == 1;
        gate.until = n[2];
        gate.version = static_cast<std::uint64_t>(n[3]);
        gate.reads = n.size() == 5 && n[4] == 1;
    }
    co_return gate;
}

asio::awaitable<void> write_gate(Context& ctx, const GateState& gate) {
    const auto text = std::to_string(gate.epoch) + ":" + (gate.closed ? "1" : "0") + ":" +
                      std::to_string(gate.until) + ":" + std::to_string(gate.version) + ":" +
                      (gate.reads ? "1" : "0");
    co_await ctx.store.put_record(kGateTable, kGateKey, text);
}

// This pod's record: the epoch it acknowledges, now, its topology version.
asio::awaitable<void> sign_of_life(Context& ctx, std::uint64_t epoch) {
    const auto text = pod_sign_text({epoch, util::unix_ms(), ctx.fleet()->version()});
    co_await ctx.store.put_record(kPodsTable, pod_name(), text);
}

}  // namespace

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

asio::awaitable<void> sleep_ms(std::uint32_t ms) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(ms));
    co_await timer.async_wait(asio::use_awaitable);
}

// Closes every pod's write gate: returns once each live pod (a sign of life within
// rebalance.lease_ms) acknowledged it — its writes in flight done, the current topology
// loaded.
asio::awaitable<GateState> fence(Context& ctx, const std::string& holder, bool reads) {
    GateState gate = co_await read_gate(ctx);
    ++gate.epoch;
    gate.closed = true;
    gate.reads = reads;
    // long enough for a pod that died to stop counting (its last sign of life is a lease old)
    gate.until = util::unix_ms() + 2 * static_cast<std::int64_t>(ctx.config.rebalance.lease_ms);
    gate.version = ctx.fleet()->version();
    co_await write_gate(ctx, gate);
    const auto lease = static_cast<std::int64_t>(ctx.config.rebalance.lease_ms);
    std::set<std::string> skipped;  // pods recently alive, then silent: logged once
    LeaseKeeper lease_keeper(ctx, holder);
    for (std::uint32_t delay = 1;; delay = std::min<std::uint32_t>(delay * 2, 10)) {
        co_await lease_keeper.tick();
        const auto now = util::unix_ms();
        std::string waiting;
        for (const auto& [pod, value] : co_await ctx.store.records(kPodsTable)) {
            const auto sign = parse_pod_sign(value);
            if (!sign) continue;
            if (now - sign->at >= lease) {  // gone: not waited for
                if (now - sign->at < 2 * lease && skipped.insert(pod).second) {
                    log::warn("write gate: a pod silent for a lease is not waited for",
                              {{"pod", pod},
                               {"silent_ms", now - sign->at},
                               {"epoch", static_cast<std::int64_t>(gate.epoch)}});
                }
                continue;
            }
            if (sign->epoch < gate.epoch || sign->version < gate.version) waiting = pod;
        }
        if (waiting.empty()) co_return gate;
        if (now + lease / 2 > gate.until) {
            const GateState open{gate.epoch, false, 0, gate.version, false};
            co_await write_gate(ctx, open);
            throw std::runtime_error("Miroir `" + waiting + "` did not hold its writes in time");
        }
        co_await sleep_ms(delay);
    }
}

asio::awaitable<void> unfence(Context& ctx, const GateState& gate) {
    // pods load this topology version before they open (a reshard switched meanwhile)
    const GateState open{gate.epoch, false, 0, std::max(gate.version, ctx.fleet()->version()),
                         false};
    co_await write_gate(ctx, open);
}

// The epoch this pod last acknowledged (its follower's only state besides the gate's).
std::atomic<std::uint64_t> acknowledged{0};

// One step of this pod's gate follower: a sign of life first (so that a driver closing the
// gate meanwhile waits for this pod), the gate read, the topology it asks for loaded, this
// pod's gate closed and drained or opened as it says, and the acknowledgement.
asio::awaitable<void> follow_gate(Context& ctx) {
    co_await sign_of_life(ctx, acknowledged.load());
    const auto gate = co_await read_gate(ctx);
    if (gate.version > ctx.fleet()->version()) co_await reload_topology(ctx);
    const bool holds = gate.holds(util::unix_ms());
    ctx.writes.follow(holds);
    ctx.reshard_reads.follow(holds && gate.reads);
    auto last_sign = Clock::now();
    while (!ctx.writes.drained() || !ctx.reshard_reads.drained()) {
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
                    const auto sign = parse_pod_sign(value);
                    if (!sign || now - sign->at > 3600 * 1000) {
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
            ctx.reshard_reads.follow(true);
        }
    }
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

// Renews this pod's lease; Superseded when another pod holds it.
asio::awaitable<void> keep_lease(Context& ctx, const std::string& holder) {
    const bool held = co_await ctx.store.lease(kLease, holder, ctx.config.rebalance.lease_ms);
    if (!held) throw Superseded("another Miroir drives the rebalance");
}

LeaseKeeper::LeaseKeeper(Context& ctx, std::string holder)
    : ctx_(ctx), holder_(std::move(holder)), renewed_(Clock::now()) {}

asio::awaitable<void> LeaseKeeper::tick() {
    if (Clock::now() - renewed_ < std::chrono::milliseconds(ctx_.config.rebalance.lease_ms / 4)) {
        co_return;
    }
    co_await keep_lease(ctx_, holder_);
    renewed_ = Clock::now();
}

}  // namespace miroir::workers::rebalancing
