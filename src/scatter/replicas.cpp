// Which replica answers a read, and what happens when it is slow or does not answer.
//
// The covering set takes one owner per shard among the nodes that are up (healthy ones first),
// chosen by `scatter.replica_selection`: `adaptive` scores each node by its observed latency,
// requests in flight and error rate and takes the lowest (with a little random exploration),
// `round_robin` rotates, `random` draws. A read slower than a healthy replica's p95 ×
// multiplier is sent again to another replica of the same shards (hedged) while the hedge
// budget allows, and the first good answer wins; a node that does not answer has its shards
// asked once more elsewhere.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/observed.hpp>
#include <miroir/util/time.hpp>

namespace miroir::scatter {

using namespace miroir::fleet;

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

std::mt19937_64& rng() {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    return generator;
}

std::vector<Assignment> assignments(
    const Fleet& fleet, const std::map<std::size_t, std::vector<std::uint32_t>>& chosen) {
    std::vector<Assignment> out;
    for (const auto& [node, shards] : chosen) {
        out.push_back({node, shards, shards.size() != fleet.held_by(node)});
    }
    return out;
}

// The owners of `shard` in `group` that reads may use: the healthy ones, else the suspect ones.
std::vector<std::size_t> usable_owners(const Context& ctx, const Fleet& fleet, const Group& group,
                                       std::uint32_t shard,
                                       const std::vector<std::size_t>& exclude = {}) {
    std::vector<std::size_t> healthy, suspect;
    for (auto node : fleet.owners(group, shard)) {
        if (std::find(exclude.begin(), exclude.end(), node) != exclude.end()) continue;
        const auto state = ctx.health.state(node);
        if (state == upstream::NodeState::healthy) healthy.push_back(node);
        if (state == upstream::NodeState::suspect) suspect.push_back(node);
    }
    return healthy.empty() ? suspect : healthy;
}

// The nodes of `group` reads may use when each of them holds every shard (the replication
// factor is at least the group's size), healthy ones first as usable_owners; else none.
std::vector<std::size_t> whole_holders(const Context& ctx, const Fleet& fleet, const Group& group,
                                       const std::vector<std::size_t>& exclude) {
    if (group.nodes.empty() || fleet.topology().replication_factor < group.nodes.size()) return {};
    return usable_owners(ctx, fleet, group, 0, exclude);
}

// The adaptive score of a node: lower is better.
double score(const Context& ctx, std::size_t node) {
    const auto& w = ctx.config.scatter.adaptive;
    const auto o = ctx.observed.get(node);
    return w.latency_weight * o.latency_ms + w.inflight_weight * o.in_flight +
           w.error_weight * o.error_rate;
}

// One of `owners` for `shard`, as the selection strategy says.
std::size_t pick(const Context& ctx, const std::vector<std::size_t>& owners, std::uint32_t shard,
                 std::uint64_t turn, bool stable) {
    const auto& strategy = ctx.config.scatter.replica_selection;
    if (stable || owners.size() == 1 || strategy == "round_robin") {
        return owners[(shard + turn) % owners.size()];
    }
    std::uniform_real_distribution<double> unit(0, 1);
    if (strategy == "random" || unit(rng()) < ctx.config.scatter.adaptive.epsilon) {
        return owners[std::uniform_int_distribution<std::size_t>(0, owners.size() - 1)(rng())];
    }
    // the lowest score; equal scores (no observation yet) rotate
    std::vector<std::size_t> best;
    double lowest = 0;
    for (auto node : owners) {
        const double s = score(ctx, node);
        if (best.empty() || s < lowest - 1e-9) {
            best = {node};
            lowest = s;
        } else if (s <= lowest + 1e-9) {
            best.push_back(node);
        }
    }
    return best[(shard + turn) % best.size()];
}

// Whether a node's answer counts as one: below 500, and not a refusal of Miroir's own fields
// (`_miroir_shard` not filterable, `_miroir_ord` not sortable), which a node Miroir set up
// never gives. A node that lost its data and had the index created again by a write gives it
// until the settings checker repairs the index: its shards are asked of another replica.
bool sound(const upstream::UpstreamResult& result) {
    if (!result || result->status >= 500) return false;
    if (result->status != 400) return true;
    for (const auto field : {routing::kShardField, routing::kOrdField}) {
        if (result->body.find("`" + std::string(field) + "` is not") != std::string::npos) {
            return false;
        }
    }
    return true;
}

// One read request to one node, observed: its latency and outcome feed the adaptive scores and
// the hedging delay. A request canceled because a hedge won counts as slow, not as failed.
asio::awaitable<upstream::UpstreamResult> observed_send(Context& ctx, std::size_t node,
                                                        upstream::UpstreamRequest request,
                                                        Deadline deadline) {
    ctx.observed.started(node);
    const auto started = std::chrono::steady_clock::now();
    auto result = co_await ctx.nodes[node]->send(std::move(request), time_left(ctx, deadline));
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    const bool canceled = !result && result.error() == asio::error::operation_aborted;
    const bool ok = canceled || sound(result);
    ctx.observed.finished(node, ms, ok, util::unix_ms());
    co_return result;
}

using Answered = std::vector<std::pair<Assignment, upstream::UpstreamResult>>;

// Ends a read whose client left (http/server.cpp cancels it): what its nodes did not answer
// is no fault of theirs, and nobody waits for a retry.
asio::awaitable<void> stop_if_cancelled() {
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
        throw boost::system::system_error(asio::error::operation_aborted);
    }
}

bool all_answered(const Answered& answered) {
    return !answered.empty() && std::all_of(answered.begin(), answered.end(),
                                            [](const auto& r) { return sound(r.second); });
}

// A read and its hedge racing: the first good answer wins and the other side is cancelled
// (its node connection closed). Both sides and the race run on the request's thread, so the
// race's state needs no lock.
struct Race {
    bool decided = false;       // an answer won, or the primary failed before the hedge went out
    bool primary_done = false;  // the primary's request finished
    bool hedge_sent = false, hedge_done = false;
};

// What one side of the race brings back.
struct Leg {
    bool primary = false;
    Answered answered;
};

// The parallel group's cancellation condition: called as each side finishes, it cancels the
// other when this side's answer wins, or when the primary failed before the hedge went out
// (the read is retried elsewhere anyway).
struct FirstGoodAnswer {
    std::shared_ptr<Race> race;
    metrics::Metrics* metrics;

    asio::cancellation_type_t operator()(const std::exception_ptr& error, const Leg& leg) const {
        (leg.primary ? race->primary_done : race->hedge_done) = true;
        if (race->decided) return asio::cancellation_type::none;
        const bool good = !error && all_answered(leg.answered);
        if (!good && !(leg.primary && !race->hedge_sent)) return asio::cancellation_type::none;
        race->decided = true;
        const bool other_in_flight =
            leg.primary ? race->hedge_sent && !race->hedge_done : !race->primary_done;
        if (other_in_flight) metrics->hedge_cancelled();
        return asio::cancellation_type::terminal;
    }
};

asio::awaitable<Leg> run_primary(Context& ctx, Assignment a, upstream::UpstreamRequest request,
                                 Deadline deadline) {
    auto result = co_await observed_send(ctx, a.node, std::move(request), deadline);
    Leg leg{true, {}};
    leg.answered.emplace_back(std::move(a), std::move(result));
    co_return leg;
}

// After `delay`, the same read to the other replicas (`others`, with their requests built
// beforehand: the request builder's state belongs to the caller), when the race is still open
// and the budget allows.
asio::awaitable<Leg> run_hedge(Context& ctx, std::shared_ptr<Race> race,
                               std::vector<Assignment> others,
                               std::vector<upstream::UpstreamRequest> requests,
                               std::chrono::milliseconds delay, Deadline deadline) {
    const auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor);
    timer.expires_after(delay);
    auto [waited] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    Leg leg;
    if (waited || race->decided) co_return leg;
    if (!ctx.hedge_budget.take()) {
        ctx.metrics.hedge_budget_exhausted();
        co_return leg;
    }
    race->hedge_sent = true;
    ctx.metrics.hedge_fired();
    std::vector<asio::awaitable<upstream::UpstreamResult>> sends;
    for (std::size_t i = 0; i < others.size(); ++i) {
        sends.push_back(observed_send(ctx, others[i].node, std::move(requests[i]), deadline));
    }
    auto results = co_await upstream::gather(std::move(sends));
    for (std::size_t i = 0; i < others.size(); ++i) {
        leg.answered.emplace_back(std::move(others[i]), std::move(results[i]));
    }
    co_return leg;
}

// The answer of a race: the good one, else the primary's. An exception other than the
// cancellation the race itself asked for goes on to the caller.
Answered race_answer(Context& ctx, std::exception_ptr primary_error, Leg primary,
                     std::exception_ptr hedge_error, Leg hedge) {
    for (const auto& error : {primary_error, hedge_error}) {
        if (!error) continue;
        try {
            std::rethrow_exception(error);
        } catch (const boost::system::system_error& e) {
            if (e.code() != asio::error::operation_aborted) throw;
        }
    }
    if (!primary_error && all_answered(primary.answered)) return std::move(primary.answered);
    if (!hedge_error && all_answered(hedge.answered)) {
        ctx.metrics.hedge_won();
        return std::move(hedge.answered);
    }
    return std::move(primary.answered.empty() ? hedge.answered : primary.answered);
}

// One assignment's read, hedged when it is slow.
asio::awaitable<Answered> hedged_read(Context& ctx, Snapshot fleet, Deadline deadline, Assignment a,
                                      BuildRequest build, bool hedge) {
    ctx.hedge_budget.deposit();
    auto request = build(a);
    const auto& hedging = ctx.config.scatter.hedging;
    if (!hedge || !hedging.enabled) {
        auto result = co_await observed_send(ctx, a.node, std::move(request), deadline);
        Answered out;
        out.emplace_back(std::move(a), std::move(result));
        co_return out;
    }
    // the replicas a hedge would go to, and how long a replica that is not in trouble takes:
    // the lowest p95 among the node and them (a node that is slow on every read would
    // otherwise raise its own trigger out of reach)
    const std::vector<std::size_t> exclude = {a.node};
    auto others = replacements(ctx, *fleet, a.shards, exclude,
                               hedging.cross_group ? nullptr : &fleet->group_of(a.node));
    std::size_t covered = 0;
    double typical = ctx.observed.get(a.node).p95_ms;
    std::vector<upstream::UpstreamRequest> hedges;
    for (const auto& other : others) {
        covered += other.shards.size();
        hedges.push_back(build(other));
        const double p95 = ctx.observed.get(other.node).p95_ms;
        if (p95 > 0 && (typical <= 0 || p95 < typical)) typical = p95;
    }
    if (covered != a.shards.size()) {  // no replica to hedge to
        auto result = co_await observed_send(ctx, a.node, std::move(request), deadline);
        Answered out;
        out.emplace_back(std::move(a), std::move(result));
        co_return out;
    }
    const auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(
        std::max<double>(hedging.floor_ms, typical * hedging.multiplier)));
    // on the caller's executor: the node connections of its thread, no hop
    const auto executor = co_await asio::this_coro::executor;
    auto race = std::make_shared<Race>();
    FirstGoodAnswer first_good{race, &ctx.metrics};  // not a temporary in co_await (GCC 12)
    auto [order, primary_error, primary, hedge_error, hedged] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(executor, run_primary(ctx, a, std::move(request), deadline),
                           asio::deferred),
            asio::co_spawn(
                executor,
                run_hedge(ctx, race, std::move(others), std::move(hedges), delay, deadline),
                asio::deferred))
            .async_wait(first_good, asio::use_awaitable);
    co_return race_answer(ctx, primary_error, std::move(primary), hedge_error, std::move(hedged));
}

// Every assignment's read at once.
asio::awaitable<std::vector<Answered>> read_all(Context& ctx, const Snapshot& fleet,
                                                Deadline deadline,
                                                const std::vector<Assignment>& plan,
                                                const BuildRequest& build, bool hedge) {
    const auto executor = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(
        executor, hedged_read(ctx, fleet, deadline, plan.front(), build, hedge), asio::deferred));
    std::vector<Op> ops;
    for (const auto& a : plan) {
        ops.push_back(asio::co_spawn(executor, hedged_read(ctx, fleet, deadline, a, build, hedge),
                                     asio::deferred));
    }
    if (ops.empty()) co_return std::vector<Answered>{};
    auto [order, exceptions, results] =
        co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (auto& e : exceptions) {
        if (e) std::rethrow_exception(e);
    }
    co_return std::move(results);
}

// Adds one node's answer to what a read gathered.
void collect(Gathered& out, const Assignment& a, upstream::UpstreamResult& result, Answers keep) {
    out.asked.push_back(a);
    out.raw.emplace_back();
    out.status.push_back(result ? result->status : 0);
    out.took_ms.push_back(result ? result->elapsed_ms : -1);
    if (result && result->status >= 400 && result->status < 500) {
        if (sound(result)) {  // the query's fault: the client's answer
            if (!out.refusal) out.refusal = relay_error(result->status, result->body);
        } else {
            out.missing.insert(out.missing.end(), a.shards.begin(), a.shards.end());
        }
        out.answers.emplace_back();
        return;
    }
    if (keep == Answers::raw && result && result->status == 200) {
        out.raw.back() = std::move(result->body);
        out.answers.push_back(json::object());
        return;
    }
    auto answer =
        result && result->status == 200 ? json::parse(result->body, nullptr, false) : json();
    if (!answer.is_object()) {
        out.missing.insert(out.missing.end(), a.shards.begin(), a.shards.end());
        answer = json();
    }
    out.answers.push_back(std::move(answer));
}

}  // namespace

Deadline read_deadline(const Context& ctx) {
    const auto ms = ctx.config.scatter.read_deadline_ms;
    return ms ? std::chrono::steady_clock::now() + std::chrono::milliseconds(ms) : Deadline::max();
}

std::chrono::milliseconds time_left(const Context& ctx, Deadline deadline) {
    const auto cap = std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms);
    if (deadline == Deadline::max()) return cap;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return std::clamp(left, std::chrono::milliseconds(0), cap);
}

bool group_covers(const Context& ctx, const Fleet& fleet, const Group& group,
                  const std::vector<std::size_t>& avoid) {
    for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
        if (usable_owners(ctx, fleet, group, s, avoid).empty()) return false;
    }
    return true;
}

std::vector<Assignment> covering_set(const Context& ctx, const Fleet& fleet, std::uint64_t turn,
                                     bool stable, const std::vector<std::size_t>& avoid) {
    const auto& groups = fleet.groups();
    const std::size_t start = turn % groups.size();
    // the first group, from this turn's, whose nodes that are up cover every shard
    std::size_t chosen_group = start;
    for (std::size_t k = 0; k < groups.size(); ++k) {
        if (group_covers(ctx, fleet, groups[(start + k) % groups.size()], avoid)) {
            chosen_group = (start + k) % groups.size();
            break;
        }
    }
    // a group whose every node holds every shard (RF at least its size): one node answers alone
    if (const auto whole = whole_holders(ctx, fleet, groups[chosen_group], avoid); !whole.empty()) {
        std::map<std::size_t, std::vector<std::uint32_t>> one;
        one[pick(ctx, whole, 0, turn, stable)] = all_shards(fleet);
        return assignments(fleet, one);
    }
    std::map<std::size_t, std::vector<std::uint32_t>> chosen;
    for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
        const auto& group = groups[chosen_group];
        auto owners = usable_owners(ctx, fleet, group, s, avoid);
        for (std::size_t k = 1; owners.empty() && k < groups.size(); ++k) {
            owners =
                usable_owners(ctx, fleet, groups[(chosen_group + k) % groups.size()], s, avoid);
        }
        if (owners.empty()) owners = fleet.owners(group, s);  // none is up: it will fail
        if (owners.empty()) continue;
        chosen[pick(ctx, owners, s, turn, stable)].push_back(s);
    }
    return assignments(fleet, chosen);
}

std::vector<Assignment> replacements(const Context& ctx, const Fleet& fleet,
                                     const std::vector<std::uint32_t>& shards,
                                     const std::vector<std::size_t>& exclude, const Group* only) {
    std::map<std::size_t, std::vector<std::uint32_t>> chosen;
    // the first group that can serve them, when each of its nodes holds every shard: one node
    for (const auto& group : fleet.groups()) {
        if (shards.empty() || (only && group.id != only->id)) continue;
        if (usable_owners(ctx, fleet, group, shards.front(), exclude).empty()) continue;
        if (const auto whole = whole_holders(ctx, fleet, group, exclude); !whole.empty()) {
            auto sorted = shards;
            std::sort(sorted.begin(), sorted.end());
            chosen[pick(ctx, whole, 0, 0, false)] = std::move(sorted);
            return assignments(fleet, chosen);
        }
        break;
    }
    for (auto s : shards) {
        for (const auto& group : fleet.groups()) {
            if (only && group.id != only->id) continue;
            const auto owners = usable_owners(ctx, fleet, group, s, exclude);
            if (owners.empty()) continue;
            chosen[pick(ctx, owners, s, 0, false)].push_back(s);
            break;
        }
    }
    for (auto& [node, list] : chosen) std::sort(list.begin(), list.end());
    return assignments(fleet, chosen);
}

asio::awaitable<Gathered> ask_nodes(Context& ctx, Deadline deadline,
                                    const std::vector<const Assignment*>& who,
                                    std::vector<upstream::UpstreamRequest> requests, Answers keep) {
    std::vector<asio::awaitable<upstream::UpstreamResult>> sends;
    for (std::size_t i = 0; i < who.size(); ++i) {
        ctx.hedge_budget.deposit();
        sends.push_back(observed_send(ctx, who[i]->node, std::move(requests[i]), deadline));
    }
    auto results = co_await upstream::gather(std::move(sends));
    co_await stop_if_cancelled();
    Gathered out;
    for (std::size_t i = 0; i < results.size(); ++i) collect(out, *who[i], results[i], keep);
    co_return out;
}

asio::awaitable<Gathered> ask_with_retry(Context& ctx, Snapshot fleet, Deadline deadline,
                                         const std::vector<Assignment>& plan,
                                         const BuildRequest& build, bool hedge,
                                         std::vector<std::size_t> avoid, Answers keep) {
    Gathered gathered;
    for (auto& answered :
         co_await read_all(ctx, fleet, deadline, plan, build, hedge && avoid.empty())) {
        for (auto& [a, result] : answered) collect(gathered, a, result, keep);
    }
    co_await stop_if_cancelled();
    if (gathered.refusal || gathered.missing.empty()) co_return gathered;

    // the nodes that did not answer: their shards from other replicas, once
    std::vector<std::size_t> failed = avoid;
    for (std::size_t i = 0; i < gathered.asked.size(); ++i) {
        if (!gathered.answers[i].is_null()) continue;
        const auto node = gathered.asked[i].node;
        failed.push_back(node);
        ctx.health.record_failure(node, util::unix_ms());
        ctx.metrics.read_retry(fleet->node_id(node));
    }
    const auto retry = replacements(ctx, *fleet, gathered.missing, failed);
    if (retry.empty()) co_return gathered;
    std::vector<const Assignment*> again;
    std::vector<upstream::UpstreamRequest> more;
    std::vector<std::uint32_t> covered;
    for (const auto& a : retry) {
        again.push_back(&a);
        more.push_back(build(a));
        covered.insert(covered.end(), a.shards.begin(), a.shards.end());
    }
    auto second = co_await ask_nodes(ctx, deadline, again, std::move(more), keep);
    std::erase_if(gathered.missing, [&covered](std::uint32_t s) {
        return std::find(covered.begin(), covered.end(), s) != covered.end();
    });
    gathered.missing.insert(gathered.missing.end(), second.missing.begin(), second.missing.end());
    if (second.refusal && !gathered.refusal) gathered.refusal = std::move(second.refusal);
    for (std::size_t i = 0; i < second.asked.size(); ++i) {
        gathered.asked.push_back(std::move(second.asked[i]));
        gathered.answers.push_back(std::move(second.answers[i]));
        gathered.raw.push_back(std::move(second.raw[i]));
        gathered.status.push_back(second.status[i]);
        gathered.took_ms.push_back(second.took_ms[i]);
    }
    co_return gathered;
}

}  // namespace miroir::scatter
