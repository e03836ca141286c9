// Settings: read from one node with Miroir's own attribute hidden; updates broadcast to every
// node as one Miroir task, with `_miroir_shard` kept in filterableAttributes whatever the
// client sets (the rebalancer, deletions by shard and the covering-set filter need it).
#include <algorithm>
#include <iterator>
#include <vector>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/settings_state.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/http/settings_routes.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/meili/ttl.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/settings_sync.hpp>

#include "export_request.hpp"

namespace miroir::meili {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

constexpr std::string_view kFilterable = "filterableAttributes";

// The settings into which Miroir writes a field of its own: `_miroir_shard` must be filterable
// (even when the client sets no filterable attribute), `_miroir_ord` displayed (when the client
// lists the displayed attributes; by default every one is).
struct HiddenField {
    std::string_view setting;
    std::string_view field;
    bool when_unset;  // a value of null (reset) gets it too
};
constexpr HiddenField kHiddenFields[] = {
    {kFilterable, routing::kShardField, true},
    {"displayedAttributes", routing::kOrdField, false},
};

const HiddenField* hidden_in(std::string_view setting) {
    for (const auto& h : kHiddenFields) {
        if (h.setting == setting) return &h;
    }
    return nullptr;
}

// Whether index `uid` has document TTL: `_miroir_expires_at` is kept filterable too.
bool has_ttl(const Context& ctx, const std::string& uid) {
    return ctx.fleet()->topology().ttl.contains(uid);
}

void add_missing(json& list, std::string_view field) {
    if (std::find(list.begin(), list.end(), json(field)) == list.end()) list.push_back(field);
}

// The client's value of `setting` as the nodes must hold it (`ttl`: the index has TTL).
json with_hidden(std::string_view setting, const json& value, bool ttl) {
    const auto* h = hidden_in(setting);
    if (!h) return value;
    if (value.is_null() && !h->when_unset) return value;
    if (!value.is_null() && !value.is_array()) return value;  // invalid: the nodes answer
    json out = value.is_null() ? json::array() : value;
    add_missing(out, h->field);
    if (ttl && setting == kFilterable) add_missing(out, routing::kExpiresField);
    return out;
}

// A node's value of `setting` as the client sees it.
json without_hidden(std::string_view setting, json value) {
    const auto* h = hidden_in(setting);
    if (!h || !value.is_array()) return value;
    value.erase(std::remove(value.begin(), value.end(), json(h->field)), value.end());
    if (setting == kFilterable) {
        value.erase(std::remove(value.begin(), value.end(), json(routing::kExpiresField)),
                    value.end());
    }
    return value;
}

// The settings sub-routes of experimental settings (behind the nodes' `chatCompletions` and
// `foreignKeys` features): passed to the nodes like the others, left out of a reset's details
// as Meilisearch leaves them out.
constexpr http::SettingsRoute kExperimentalRoutes[] = {
    {"chat", "chat", Method::patch},
    {"foreign-keys", "foreignKeys", Method::put},
};

// Every settings sub-route, the experimental ones included.
std::vector<http::SettingsRoute> all_routes() {
    std::vector<http::SettingsRoute> out(std::begin(http::kSettingsRoutes),
                                         std::end(http::kSettingsRoutes));
    out.insert(out.end(), std::begin(kExperimentalRoutes), std::end(kExperimentalRoutes));
    return out;
}

// GET /settings or a sub-route from the first node that answers.
asio::awaitable<http::Response> read_settings(Context& ctx, http::Request& r,
                                              std::string_view key) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    std::string target = index_path(uid) + "/settings";
    for (const auto& route : all_routes()) {
        if (route.key == key) target += std::string("/") + route.path;
    }
    const auto fleet = ctx.fleet();
    const auto deadline = read_deadline(ctx);
    for (auto slot : fleet->members()) {
        auto result = co_await ctx.nodes[slot]->send(node_request(Method::get, target),
                                                     time_left(ctx, deadline));
        if (!result || result->status >= 500) continue;
        if (result->status != 200) co_return relay_error(result->status, result->body);
        auto body = json::parse(result->body, nullptr, false);
        if (!key.empty()) {
            body = without_hidden(key, std::move(body));
        } else {
            body = client_settings(std::move(body));
        }
        auto response = http::respond(200, body);
        add_settings_headers(ctx, uid, response);
        co_return response;
    }
    throw http::ApiError(503, "miroir_no_quorum", http::ErrorType::system,
                         "No node answered about index `" + uid + "`.");
}

// Sends `requests` (in order) to every node and answers one settingsUpdate task.
asio::awaitable<http::Response> update(Context& ctx, const std::string& uid,
                                       std::vector<upstream::UpstreamRequest> requests,
                                       const json& details) {
    check_writable(ctx, uid);
    if (!co_await lookup_index(ctx, uid)) co_await create_on_nodes(ctx, uid, std::nullopt);
    settings_proposed(ctx, uid);
    const auto fleet = ctx.fleet();  // one snapshot: the write is routed and judged on it
    auto task = new_task(uid, "settingsUpdate", details, fleet->copies());
    std::vector<NodeOutcome> outcomes;
    for (auto& request : requests) {
        auto some = co_await fan_out(ctx, broadcast(*fleet, request));
        outcomes.insert(outcomes.end(), std::make_move_iterator(some.begin()),
                        std::make_move_iterator(some.end()));
    }
    auto response = co_await conclude(ctx, *fleet, std::move(task), outcomes, all_shards(*fleet));
    if (response.status != 202) ctx.settings.set_pending(uid, false);  // no node took it
    co_return response;
}

asio::awaitable<http::Response> patch_all(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto body = http::json_body(r);
    json sent = body;
    if (sent.is_object()) {
        const bool ttl = has_ttl(ctx, uid);
        for (auto& [name, value] : sent.items()) value = with_hidden(name, value, ttl);
    }
    std::vector<upstream::UpstreamRequest> requests{
        node_request(Method::patch, index_path(uid) + "/settings", sent.dump())};
    co_return co_await update(ctx, uid, std::move(requests), body);
}

asio::awaitable<http::Response> reset_all(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    json details = json::object();
    for (const auto& route : http::kSettingsRoutes) details[route.key] = nullptr;
    json shard_only;
    shard_only[kFilterable] = with_hidden(kFilterable, nullptr, has_ttl(ctx, uid));
    std::vector<upstream::UpstreamRequest> requests{
        node_request(Method::del, index_path(uid) + "/settings"),
        node_request(Method::patch, index_path(uid) + "/settings", shard_only.dump())};
    co_return co_await update(ctx, uid, std::move(requests), details);
}

asio::awaitable<http::Response> update_one(Context& ctx, http::Request& r,
                                           http::SettingsRoute route, bool reset) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const std::string key = route.key;
    const std::string target = index_path(uid) + "/settings/" + route.path;
    json value = nullptr;
    if (!reset && r.body.find_first_not_of(" \t\r\n") != std::string::npos) {
        value = http::json_body(r);
    }
    json details;
    details[key] = value;
    std::vector<upstream::UpstreamRequest> requests;
    if (hidden_in(key) && (!reset || hidden_in(key)->when_unset)) {
        requests.push_back(
            node_request(route.verb, target, with_hidden(key, value, has_ttl(ctx, uid)).dump()));
    } else if (reset) {
        requests.push_back(node_request(Method::del, target));
    } else {
        requests.push_back(node_request(route.verb, target, value.dump()));
    }
    co_return co_await update(ctx, uid, std::move(requests), details);
}

}  // namespace

asio::awaitable<std::optional<std::uint64_t>> make_expiry_filterable(Context& ctx,
                                                                     const std::string& uid) {
    const std::string target = index_path(uid) + "/settings/filterable-attributes";
    const auto fleet = ctx.fleet();
    const auto deadline = read_deadline(ctx);
    // every node must hold the field: the first list read is the one extended, and a node
    // without the index yet (its creation queued) gets it with the list
    json held = json::array({routing::kShardField});
    bool read = false, missing = false;
    for (auto slot : fleet->members()) {
        auto result = co_await ctx.nodes[slot]->send(node_request(Method::get, target),
                                                     time_left(ctx, deadline));
        if (!result || (result->status != 200 && result->status != 404)) {
            throw http::ApiError(503, "miroir_ttl_unavailable", http::ErrorType::system,
                                 "A node of index `" + uid +
                                     "` did not answer: TTL is enabled "
                                     "once every node holds `_miroir_expires_at` as filterable.");
        }
        auto list = json::parse(result->body, nullptr, false);
        if (result->status == 404 || !list.is_array()) {
            missing = true;
            continue;
        }
        if (!read) held = list;
        read = true;
        missing = missing ||
                  std::find(list.begin(), list.end(), json(routing::kExpiresField)) == list.end();
    }
    if (!missing) co_return std::nullopt;  // made so before
    json details;
    details[kFilterable] = without_hidden(kFilterable, held);
    std::vector<upstream::UpstreamRequest> requests{
        node_request(Method::put, target, with_hidden(kFilterable, held, true).dump())};
    auto response = co_await update(ctx, uid, std::move(requests), details);
    const auto answer = json::parse(response.body, nullptr, false);
    if (response.status != 202 || !answer.is_object() ||
        !answer.value("taskUid", json()).is_number_unsigned()) {
        throw http::ApiError(
            response.status >= 400 ? response.status : 503, "miroir_ttl_unavailable",
            http::ErrorType::system,
            "The nodes of index `" + uid +
                "` did not take `_miroir_expires_at` as a filterable attribute: " +
                (answer.is_object() ? answer.value("message", response.body) : response.body));
    }
    co_return answer["taskUid"].get<std::uint64_t>();
}

json client_settings(json settings) {
    if (!settings.is_object()) return settings;
    for (auto& [name, value] : settings.items()) value = without_hidden(name, std::move(value));
    return settings;
}

void add_settings_routes(http::Router& router, Context& ctx) {
    router.add(Method::get, "/indexes/{uid}/settings", "settings.get",
               [&ctx](http::Request& r) { return read_settings(ctx, r, ""); });
    router.add(Method::patch, "/indexes/{uid}/settings", "settings.update",
               [&ctx](http::Request& r) { return patch_all(ctx, r); });
    router.add(Method::del, "/indexes/{uid}/settings", "settings.update",
               [&ctx](http::Request& r) { return reset_all(ctx, r); });
    for (const auto& route : all_routes()) {
        const std::string pattern = std::string("/indexes/{uid}/settings/") + route.path;
        router.add(Method::get, pattern, "settings.get",
                   [&ctx, route](http::Request& r) { return read_settings(ctx, r, route.key); });
        router.add(route.verb, pattern, "settings.update",
                   [&ctx, route](http::Request& r) { return update_one(ctx, r, route, false); });
        router.add(Method::del, pattern, "settings.update",
                   [&ctx, route](http::Request& r) { return update_one(ctx, r, route, true); });
    }
}

}  // namespace miroir::meili
