// Document TTL in the request path: a policy's first setting (the field made filterable on the
// nodes, then the policy stored in the topology every pod reads), and the unexpired filter
// that reads AND to the client's.
#include <chrono>

#include <miroir/fleet/context.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/message.hpp>
#include <miroir/http/tenant_token.hpp>
#include <miroir/meili/ttl.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/task_state.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/util/time.hpp>

namespace miroir::meili {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

// How long the first policy of an index waits for its nodes to make the field filterable (a
// reindex of what they hold).
constexpr std::chrono::milliseconds kFilterableWait = std::chrono::minutes(10);

http::ApiError unavailable(const std::string& uid, const std::string& why) {
    return http::ApiError(503, "miroir_ttl_unavailable", http::ErrorType::system,
                          "Document TTL cannot be enabled on index `" + uid + "` yet: " + why);
}

// Waits for Miroir task `task_uid` to finish; throws unless it succeeded.
asio::awaitable<void> wait_succeeded(Context& ctx, const std::string& uid, std::uint64_t task_uid) {
    const auto task = co_await scatter::wait_finished(ctx, task_uid, kFilterableWait);
    if (!task) {
        throw unavailable(uid, "its nodes are still indexing `_miroir_expires_at` (task " +
                                   std::to_string(task_uid) + "); ask again later.");
    }
    if (task->status != "succeeded") {
        throw unavailable(
            uid, "its nodes refused `_miroir_expires_at` as a filterable attribute (task " +
                     std::to_string(task_uid) + ": " + task->error + ").");
    }
}

// Stages index `uid`'s policy before its nodes filter by expiry: `policy` (nothing: the one
// stored, or the default), not yet filterable. Settings changes from then on keep the field.
asio::awaitable<void> stage_policy(Context& ctx, const std::string& uid,
                                   std::optional<fleet::TtlPolicy> policy) {
    co_await fleet::change_topology(ctx, [&uid, &policy](fleet::Topology& t) {
        auto& held = t.ttl.try_emplace(uid).first->second;
        if (policy) held = *policy;
        held.filterable = false;
    });
}

// Index `uid`'s policy once its nodes filter by expiry: `policy` (nothing: the one stored)
// made filterable, unless the index was deleted meanwhile.
asio::awaitable<void> commit_policy(Context& ctx, const std::string& uid,
                                    std::optional<fleet::TtlPolicy> policy) {
    co_await fleet::change_topology(ctx, [&uid, &policy](fleet::Topology& t) {
        const auto it = t.ttl.find(uid);
        if (it == t.ttl.end()) return;
        if (policy) it->second = *policy;
        it->second.filterable = true;
    });
}

bool filter_type_ok(const json& filter) {
    return filter.is_null() || filter.is_string() || filter.is_array();
}

}  // namespace

std::int64_t unix_now() { return util::unix_ms() / 1000; }

asio::awaitable<void> set_ttl_policy(Context& ctx, const std::string& uid,
                                     std::optional<fleet::TtlPolicy> policy) {
    bool filterable = false;
    {
        const auto fleet = ctx.fleet();
        const auto it = fleet->topology().ttl.find(uid);
        filterable = it != fleet->topology().ttl.end() && it->second.filterable;
    }
    if (!filterable) {
        co_await stage_policy(ctx, uid, policy);
        const auto task = co_await make_expiry_filterable(ctx, uid);
        if (task) co_await wait_succeeded(ctx, uid, *task);
    }
    co_await commit_policy(ctx, uid, policy);
}

asio::awaitable<void> ensure_ttl(Context& ctx, const std::string& uid) {
    {
        const auto fleet = ctx.fleet();
        const auto it = fleet->topology().ttl.find(uid);
        if (it != fleet->topology().ttl.end() && it->second.filterable) co_return;
    }
    co_await set_ttl_policy(ctx, uid, std::nullopt);
}

asio::awaitable<void> forget_ttl(Context& ctx, const std::string& uid) {
    if (!ctx.fleet()->topology().ttl.contains(uid)) co_return;
    co_await fleet::change_topology(ctx, [&uid](fleet::Topology& t) { t.ttl.erase(uid); });
}

asio::awaitable<void> swap_ttl(Context& ctx, const std::string& a, const std::string& b) {
    {
        const auto fleet = ctx.fleet();
        const auto& held = fleet->topology().ttl;
        if (!held.contains(a) && !held.contains(b)) co_return;
    }
    co_await fleet::change_topology(ctx, [&a, &b](fleet::Topology& t) {
        auto first = t.ttl.extract(a);
        auto second = t.ttl.extract(b);
        if (first) {
            first.key() = b;
            t.ttl.insert(std::move(first));
        }
        if (second) {
            second.key() = a;
            t.ttl.insert(std::move(second));
        }
    });
}

void hide_expired(const fleet::Topology& t, const std::string& uid, json& body) {
    if (!t.ttl_of(uid) || !body.is_object()) return;
    const auto filter = body.value("filter", json());
    if (!filter_type_ok(filter)) return;
    body["filter"] = http::and_filters(filter, routing::unexpired_filter(unix_now()));
}

std::optional<std::string> hide_expired(const fleet::Topology& t, const std::string& uid,
                                        std::optional<std::string> filter) {
    if (!t.ttl_of(uid)) return filter;
    const auto unexpired = routing::unexpired_filter(unix_now());
    if (!filter || filter->find_first_not_of(" \t\r\n") == std::string::npos) return unexpired;
    // a query-string filter is JSON (an array or a string) or plain filter text
    auto parsed = json::parse(*filter, nullptr, false);
    if (!parsed.is_array() && !parsed.is_string()) parsed = *filter;
    return http::and_filters(parsed, unexpired).dump();
}

void hide_expired_query(const Context& ctx, const std::string& uid,
                        std::vector<std::pair<std::string, std::string>>& params,
                        std::map<std::string, std::string>& by_name) {
    const auto it = by_name.find("filter");
    auto filter = hide_expired(ctx.fleet()->topology(), uid,
                               it == by_name.end() ? std::nullopt : std::optional(it->second));
    if (!filter || (it != by_name.end() && *filter == it->second)) return;
    std::erase_if(params, [](const auto& p) { return p.first == "filter"; });
    params.emplace_back("filter", *filter);
    by_name["filter"] = *filter;
}

void apply_read_rules(const Context& ctx, const http::Request& r, const std::string& uid,
                      json& body) {
    http::apply_tenant_rules(r, uid, body);
    hide_expired(ctx.fleet()->topology(), uid, body);
}

bool expired(const fleet::Topology& t, const std::string& uid, const json& doc) {
    if (!t.ttl_of(uid) || !doc.is_object()) return false;
    const auto it = doc.find(routing::kExpiresField);
    return it != doc.end() && it->is_number() && it->get<double>() <= unix_now();
}

}  // namespace miroir::meili
