// Rolling index families (index lifecycle): a family's newest index is rolled over to a new one
// when it holds `max_documents` or is `max_age_s` old, and its aliases and retention follow
// (docs/operations.md, "Rolling indexes"). Every step is a request of the public API served in
// process (Context::loopback): an index created and given the newest one's settings, the write
// alias flipped, the read alias set to the newest `retain`, the older indexes deleted, each
// task waited for. Steps already done are found done again, so a rollover a restart cut short
// is finished by the next check.
#include <algorithm>
#include <chrono>
#include <map>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/scatter/task_state.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/util/time.hpp>
#include <miroir/workers/workers.hpp>

#include "rebalance.hpp"
#include "self_call.hpp"

namespace miroir::workers {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using fleet::IlmPolicy;
using http::Method;

constexpr const char* kLeaseName = "ilm";
constexpr std::int64_t kLeaseMs = 30000;
constexpr std::int64_t kTickMs = 1000;
constexpr std::chrono::milliseconds kTaskWait = std::chrono::minutes(10);
constexpr std::int64_t kFirstIndexGraceMs = 60000;

// A request answered with a task, run to its end. `done_code`: a failure
// with that error code counts as done (the step was done before).
asio::awaitable<void> run_task(Context& ctx, Method method, const std::string& target,
                               const json& body, const char* done_code = "") {
    const auto what = std::string(http::to_string(method)) + " " + target;
    const auto answer = co_await self_call(ctx, method, target, body, "ilm");
    const auto uid = accepted_task(what, answer);
    co_await task_succeeded(ctx, what, uid, kTaskWait, done_code);
}

std::string index_of(const IlmPolicy& p, std::uint64_t generation) {
    auto uid = p.pattern;
    uid.replace(uid.find("{n}"), 3, std::to_string(generation));
    return uid;
}

const IlmPolicy& policy_of(const fleet::Topology& t, const std::string& name) {
    const auto it = t.ilm.find(name);
    if (it == t.ilm.end()) {
        throw http::error(404, "miroir_ilm_policy_not_found", "Policy `" + name + "` not found.");
    }
    return it->second;
}

// Stores `change` to policy `name`; the policy after it.
asio::awaitable<IlmPolicy> change_policy(Context& ctx, const std::string& name,
                                         std::function<void(IlmPolicy&)> change) {
    const auto fleet = co_await fleet::change_topology(ctx, [&](fleet::Topology& t) {
        policy_of(t, name);
        change(t.ilm.at(name));
    });
    co_return policy_of(fleet->topology(), name);
}

// Points alias `name` at `targets` (one index: a single alias), making it when missing.
asio::awaitable<void> point_alias(Context& ctx, const std::string& name,
                                  const std::vector<std::string>& targets, bool multi) {
    const auto fleet = ctx.fleet();
    const auto* alias = fleet->topology().alias(name);
    if (alias && alias->targets == targets) co_return;
    json body;
    if (multi) {
        body["targets"] = targets;
    } else {
        body["target"] = targets.front();
    }
    http::Response answer;
    if (!alias) {
        json made = body;
        made["name"] = name;
        answer = co_await self_call(ctx, Method::post, "/_miroir/aliases", made, "ilm");
    }
    if (alias || answer.status == 409) {  // made meanwhile: pointed instead
        answer = co_await self_call(ctx, Method::put, "/_miroir/aliases/" + name, body, "ilm");
    }
    if (answer.status != 200 && answer.status != 201) {
        throw failure("alias `" + name + "`", answer.status,
                      json::parse(answer.body, nullptr, false));
    }
}

// The family's aliases and retention as its policy says; the policy after it.
asio::awaitable<IlmPolicy> reconcile(Context& ctx, const std::string& name) {
    auto policy = policy_of(ctx.fleet()->topology(), name);
    if (policy.indexes.empty()) co_return policy;
    const std::vector<std::string> current = {policy.indexes.back()};
    co_await point_alias(ctx, policy.write_alias, current, false);
    const auto kept = std::min<std::size_t>(policy.retain, policy.indexes.size());
    const auto split = policy.indexes.end() - static_cast<long>(kept);
    const std::vector<std::string> newest(split, policy.indexes.end());
    co_await point_alias(ctx, policy.read_alias, newest, true);
    const std::vector<std::string> older(policy.indexes.begin(), split);
    const json none;
    for (const auto& old : older) {
        const auto target = "/indexes/" + old;
        co_await run_task(ctx, Method::del, target, none, "index_not_found");
        policy =
            co_await change_policy(ctx, name, [&old](IlmPolicy& p) { std::erase(p.indexes, old); });
        ctx.metrics.ilm_deleted(name);
    }
    co_return policy;
}

// Whether the family's newest index passed a threshold of its policy.
asio::awaitable<bool> due(Context& ctx, const IlmPolicy& p) {
    if (p.indexes.empty()) co_return true;
    if (p.max_age_s > 0 && util::unix_ms() - p.rolled_at >= p.max_age_s * 1000) co_return true;
    if (p.max_documents == 0) co_return false;
    const json none;
    const auto answer = co_await self_call(ctx, Method::get,
                                           "/indexes/" + p.indexes.back() + "/stats", none, "ilm");
    const auto stats = json::parse(answer.body, nullptr, false);
    if (answer.status != 200 || !stats.is_object()) co_return false;
    co_return stats.value("numberOfDocuments", std::uint64_t{0}) >= p.max_documents;
}

}  // namespace

asio::awaitable<IlmPolicy> roll_over(Context& ctx, const std::string& name,
                                     std::optional<std::uint64_t> from) {
    const auto policy = policy_of(ctx.fleet()->topology(), name);
    if (from && policy.generation != *from) co_return policy;  // rolled over meanwhile
    const auto generation = policy.generation + 1;
    const auto uid = index_of(policy, generation);
    json create;
    create["uid"] = uid;
    if (policy.primary_key) create["primaryKey"] = *policy.primary_key;
    co_await run_task(ctx, Method::post, "/indexes", create, "index_already_exists");
    if (!policy.indexes.empty()) {
        const auto source = policy.indexes.back();
        const json none;
        const auto answer =
            co_await self_call(ctx, Method::get, "/indexes/" + source + "/settings", none, "ilm");
        const auto settings = json::parse(answer.body, nullptr, false);
        if (answer.status != 200)
            throw failure("settings of `" + source + "`", answer.status, settings);
        co_await run_task(ctx, Method::patch, "/indexes/" + uid + "/settings", settings);
    }
    const auto now = util::unix_ms();
    co_await change_policy(ctx, name, [&uid, generation, now](IlmPolicy& p) {
        p.generation = generation;
        p.rolled_at = now;
        if (std::find(p.indexes.begin(), p.indexes.end(), uid) == p.indexes.end()) {
            p.indexes.push_back(uid);
        }
    });
    ctx.metrics.ilm_rolled(name);
    log::info("index rolled over", {{"policy", name}, {"index", uid}});
    co_return co_await reconcile(ctx, name);
}

asio::awaitable<void> run_ilm(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    std::map<std::string, std::int64_t> checked;  // policy → its last check, Unix ms
    for (;;) {
        timer.expires_after(std::chrono::milliseconds(kTickMs));
        co_await timer.async_wait(asio::use_awaitable);
        const auto fleet = ctx.fleet();
        if (fleet->topology().ilm.empty()) continue;
        const bool held = co_await ctx.store.lease(kLeaseName, rebalancing::pod_name(), kLeaseMs);
        if (!held) continue;
        for (const auto& [name, listed] : fleet->topology().ilm) {
            const auto now = util::unix_ms();
            auto& at = checked[name];
            if (now < at + listed.check_interval_s * 1000) continue;
            at = now;
            try {
                const auto stored = ctx.fleet();
                const auto it = stored->topology().ilm.find(name);
                if (it == stored->topology().ilm.end()) continue;
                const auto policy = it->second;  // as stored now
                // a policy's first index is made by its POST, unless that stopped short
                if (policy.generation == 0 && now - policy.rolled_at < kFirstIndexGraceMs) {
                    continue;
                }
                const bool roll = co_await due(ctx, policy);
                if (roll) {
                    const std::optional<std::uint64_t> from = policy.generation;
                    co_await roll_over(ctx, name, from);
                } else {
                    co_await reconcile(ctx, name);
                }
            } catch (const std::exception& e) {
                log::warn("index lifecycle check failed", {{"policy", name}, {"error", e.what()}});
            }
        }
    }
}

}  // namespace miroir::workers
