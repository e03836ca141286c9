// Read-your-writes sessions (docs/search.md, "Sessions"): a write with `X-Miroir-Session`
// records its Miroir task under the session in the task store (every pod sees it); a read in
// the session after it is routed to a replica group that applied the write and, with the
// `block` strategy, waits until one did.
//
//   write ─► idempotency ─► 202 ─► store "session:<id>" = {"task": uid}   (ttl_seconds)
//   read  ─► the task's node tasks ─► block: poll them until every one of a readable group is
//            done (at most max_wait_ms, then X-Miroir-Session-Stale: true)
//                                 └─► route_pin: the first readable group that took the write
//         ─► search reads avoid the other groups' nodes; other reads wait for every group
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/write_gate.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/meili/idempotency.hpp>
#include <miroir/meili/sessions.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::meili {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxSession = 128;

// The request's session, checked; nullopt without the header or with sessions off.
std::optional<std::string> session_of(const fleet::Context& ctx, const http::Request& r) {
    const auto header = r.headers.get("X-Miroir-Session");
    if (!header) return std::nullopt;
    const std::string id(*header);
    const bool visible =
        std::all_of(id.begin(), id.end(), [](char c) { return c > 32 && c < 127; });
    if (id.empty() || id.size() > kMaxSession || !visible) {
        throw http::ApiError(400, "miroir_invalid_session", http::ErrorType::invalid_request,
                             "`X-Miroir-Session` must be 1 to 128 visible ASCII characters.");
    }
    if (!ctx.config.session_pinning.enabled) return std::nullopt;
    return "session:" + id;
}

bool done(const std::string& status) {
    return status == "succeeded" || status == "failed" || status == "canceled";
}

// Reads that choose their replicas through Request::read_avoid; others wait for every group.
bool pinnable(const http::Request& r) {
    if (r.route == "/indexes/{uid}/search" || r.route == "/indexes/{uid}/explain") return true;
    return r.route == "/multi-search" && r.body.find("\"federation\"") == std::string::npos;
}

struct Wait {
    std::optional<int> group;  // the group the read is pinned to
    bool stale = false;        // the wait ended before the write was applied there
};

// The node tasks of the session's last write, by readable group (node slot, node task uid,
// done yet); empty when there is nothing to wait for.
using ByGroup = std::map<int, std::vector<std::tuple<std::size_t, std::uint64_t, bool>>>;

ByGroup pending_by_group(const fleet::Fleet& fleet, const tasks::Task& task) {
    ByGroup out;
    for (const auto& nt : task.node_tasks) {
        const auto slot = fleet.topology().slot(nt.node);
        if (!slot) continue;
        const auto group = fleet.node(*slot).group;
        const bool readable = std::any_of(fleet.groups().begin(), fleet.groups().end(),
                                          [group](const auto& g) { return g.id == group; });
        if (readable) out[group].emplace_back(*slot, nt.uid, done(nt.status));
    }
    return out;
}

// The first group whose node tasks are all done, or every group's when `all`.
std::optional<int> applied(const ByGroup& groups, bool all) {
    std::optional<int> first;
    for (const auto& [group, tasks] : groups) {
        const bool complete =
            std::all_of(tasks.begin(), tasks.end(), [](const auto& t) { return std::get<2>(t); });
        if (complete && !first) first = group;
        if (!complete && all) return std::nullopt;
    }
    return first;
}

// Polls the nodes for the node tasks not done yet.
asio::awaitable<void> poll(fleet::Context& ctx, ByGroup& groups) {
    const auto timeout = std::chrono::milliseconds(ctx.config.upstream.write_timeout_ms);
    for (auto& [group, tasks] : groups) {
        for (auto& [slot, uid, finished] : tasks) {
            if (finished) continue;
            auto answer = co_await ctx.nodes[slot]->send(
                scatter::node_request(http::Method::get, "/tasks/" + std::to_string(uid)), timeout);
            if (!answer || answer->status != 200) continue;
            const auto task = json::parse(answer->body, nullptr, false);
            if (task.is_object()) finished = done(task.value("status", std::string()));
        }
    }
}

asio::awaitable<Wait> wait_for_write(fleet::Context& ctx, const std::string& key, bool all) {
    Wait out;
    const auto record = co_await ctx.store.expiring(key);
    if (!record) co_return out;
    const auto value = json::parse(*record, nullptr, false);
    if (!value.is_object() || !value.value("task", json()).is_number_unsigned()) co_return out;
    const auto task = co_await ctx.store.get(value["task"].get<std::uint64_t>());
    if (!task) co_return out;
    const auto fleet = ctx.fleet();
    auto groups = pending_by_group(*fleet, *task);
    if (groups.empty()) co_return out;
    const auto& sp = ctx.config.session_pinning;
    if (sp.wait_strategy == "route_pin") {
        out.group = groups.begin()->first;
        co_return out;
    }
    const auto started = Clock::now();
    bool waited = false;
    const auto deadline = started + std::chrono::milliseconds(sp.max_wait_ms);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (std::uint32_t delay = 5;; delay = std::min<std::uint32_t>(delay * 2, 100)) {
        if (auto group = applied(groups, all)) {
            out.group = group;
            break;
        }
        if (!waited) ctx.metrics.session_pin_enforced();  // a wait, counted once
        waited = true;
        if (Clock::now() >= deadline) {
            out.group = groups.begin()->first;
            out.stale = true;
            ctx.metrics.session_wait_timeout();
            break;
        }
        timer.expires_after(std::min(
            std::chrono::milliseconds(delay),
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()) +
                std::chrono::milliseconds(1)));
        co_await timer.async_wait(asio::use_awaitable);
        co_await poll(ctx, groups);
    }
    if (waited) {
        ctx.metrics.session_wait(std::chrono::duration<double>(Clock::now() - started).count());
    }
    co_return out;
}

}  // namespace

bool pin_reads(const fleet::Context& ctx, const fleet::Fleet& fleet, http::Request& r, int group) {
    const auto it = std::find_if(fleet.groups().begin(), fleet.groups().end(),
                                 [group](const auto& g) { return g.id == group; });
    // a shard no node of the group that is up holds: normal routing
    if (it == fleet.groups().end() || !scatter::group_covers(ctx, fleet, *it)) return false;
    for (auto slot : fleet.members()) {
        if (fleet.node(slot).group != group) r.read_avoid.push_back(slot);
    }
    return true;
}

asio::awaitable<http::Response> around_write(fleet::Context& ctx, http::Request& r,
                                             const http::Handler& next) {
    const auto session = session_of(ctx, r);
    auto response = co_await idempotent(ctx, r, next);
    if (!session || response.status != 202) co_return response;
    const auto body = json::parse(response.body, nullptr, false);
    if (!body.is_object() || !body.contains("taskUid")) co_return response;
    json record;
    record["task"] = body["taskUid"];
    const auto& sp = ctx.config.session_pinning;
    const auto dropped = co_await ctx.store.put_bounded("session:", *session, record.dump(),
                                                        sp.ttl_seconds * 1000, sp.max_sessions);
    if (dropped) ctx.metrics.sessions_dropped(dropped);
    co_return response;
}

namespace {

// Whether read `r` must hold a pass of the reshard read gate: it reads an index being
// resharded, or may search any index (a multi-search, the stats, a chat) while one is.
bool reads_resharded(const fleet::Context& ctx, const http::Request& r) {
    const auto fleet = ctx.fleet();
    const auto& layouts = fleet->topology().layouts;
    if (layouts.empty()) return false;
    if (const auto uid = r.param("uid"); !uid.empty() && r.route.starts_with("/indexes/{uid}")) {
        // an alias of several indexes (left unresolved) is searched across its targets
        const auto* alias = fleet->topology().alias(uid);
        if (!alias || !alias->multi) return fleet->shadow_of(uid).has_value();
        return std::any_of(
            alias->targets.begin(), alias->targets.end(),
            [&fleet](const auto& target) { return fleet->shadow_of(target).has_value(); });
    }
    // a multi-search (or federation), the statistics, a chat: any index may be searched
    const bool any = r.route.starts_with("/multi-search") || r.route == "/stats" ||
                     r.route.starts_with("/chats");
    return any && std::any_of(layouts.begin(), layouts.end(),
                              [](const auto& entry) { return !entry.second.shadow.empty(); });
}

}  // namespace

asio::awaitable<http::Response> around_read(fleet::Context& ctx, http::Request& r,
                                            const http::Handler& next) {
    // before the snapshot is taken: a reshard switching the index's copies waits for the
    // reads that hold a pass, and holds the new ones until it is done
    std::optional<fleet::WriteGate::Pass> reshard_pass;
    if (reads_resharded(ctx, r)) {
        auto pass = co_await ctx.reshard_reads.enter();
        reshard_pass.emplace(std::move(pass));
    }
    const auto session = session_of(ctx, r);
    const bool pin = pinnable(r);
    Wait wait;
    if (session) wait = co_await wait_for_write(ctx, *session, !pin);
    const bool pinned = wait.group && pin && pin_reads(ctx, *ctx.fleet(), r, *wait.group);
    // a session's write comes first; else the tenant's group
    const auto tenant_group = !pinned && pin ? pin_tenant(ctx, r) : std::nullopt;
    if (pinned) r.read_group = {*wait.group, "session"};
    if (tenant_group) r.read_group = {*tenant_group, "tenant"};
    auto response = co_await next(r);
    if (pinned) response.headers.set("X-Miroir-Session-Group", std::to_string(*wait.group));
    if (tenant_group) {
        response.headers.set("X-Miroir-Tenant-Group", std::to_string(*tenant_group));
    }
    if (wait.stale) response.headers.set("X-Miroir-Session-Stale", "true");
    co_return response;
}

}  // namespace miroir::meili
