// /webhooks: Miroir's own webhooks, called when Miroir's tasks finish (workers/webhooks.cpp),
// kept in the task store so that every pod sees and calls the same ones. Shapes, checks and
// errors are Meilisearch 1.50's (crates/meilisearch/src/routes/webhooks.rs).
#include <algorithm>
#include <map>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/util/uuid.hpp>
#include <miroir/workers/workers.hpp>

#include "webhook_checks.hpp"

namespace miroir::meili {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

constexpr std::size_t kMaxWebhooks = 20;

// A webhook as the routes answer it: the Authorization header's secret hidden.
json view(const std::string& uuid, const json& webhook) {
    json out;
    out["uuid"] = uuid;
    out["isEditable"] = true;
    out["url"] = webhook.value("url", std::string());
    json headers = json::object();
    const auto stored_headers = webhook.value("headers", json::object());
    for (const auto& [name, value] : stored_headers.items()) {
        headers[name] = redacted(name, value.get<std::string>());
    }
    out["headers"] = std::move(headers);
    return out;
}

// Every webhook, by uuid.
asio::awaitable<std::map<std::string, json>> stored(Context& ctx) {
    std::map<std::string, json> out;
    for (const auto& [uuid, text] : co_await ctx.store.records(workers::kWebhookTable)) {
        out[uuid] = json::parse(text, nullptr, false);
    }
    co_return out;
}

// The path's uuid, checked: 400 when it is none, 400 for the command line's (nil) one when
// `editing`.
std::string path_uuid(const http::Request& r, bool editing) {
    const auto parsed = util::parse_uuid(r.param("uuid"));
    if (parsed.uuid.empty()) {
        throw http::error(400, "invalid_webhook_uuid", "Invalid UUID: " + parsed.error);
    }
    if (editing && parsed.uuid == kNilUuid) throw immutable(parsed.uuid);
    return parsed.uuid;
}

asio::awaitable<http::Response> list(Context& ctx) {
    json results = json::array();
    for (const auto& [uuid, webhook] : co_await stored(ctx)) results.push_back(view(uuid, webhook));
    json out;
    out["results"] = std::move(results);
    co_return http::respond(200, out);
}

asio::awaitable<http::Response> get(Context& ctx, http::Request& r) {
    const auto uuid = path_uuid(r, false);
    auto all = co_await stored(ctx);
    const auto it = all.find(uuid);
    if (it == all.end()) throw not_found(uuid);
    co_return http::respond(200, view(uuid, it->second));
}

asio::awaitable<http::Response> create(Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    const auto settings = webhook_settings(body);
    const auto uuid = util::random_uuid();
    if (settings.headers && settings.headers->size() > kMaxHeaders) throw too_many_headers(uuid);
    const auto all = co_await stored(ctx);
    if (all.size() >= kMaxWebhooks) {
        throw http::error(400, "invalid_webhooks",
                          "Defining too many webhooks would crush the server. Please limit the "
                          "number of webhooks to 20. You may use a third-party proxy server to "
                          "dispatch events to more than 20 endpoints.");
    }
    json webhook;
    webhook["url"] = settings.url && settings.url->is_string() ? *settings.url : json("");
    json headers = json::object();
    if (settings.headers) {
        for (const auto& [name, value] : settings.headers->items()) {
            headers[name] = value.is_string() ? value : json("");
        }
    }
    webhook["headers"] = std::move(headers);
    check_webhook(uuid, webhook);
    co_await ctx.store.put_record(workers::kWebhookTable, uuid, webhook.dump());
    co_return http::respond(201, view(uuid, webhook));
}

asio::awaitable<http::Response> update(Context& ctx, http::Request& r) {
    const auto uuid = path_uuid(r, true);
    const auto body = http::json_body(r);
    const auto settings = webhook_settings(body);
    auto all = co_await stored(ctx);
    const auto it = all.find(uuid);
    if (it == all.end()) throw not_found(uuid);
    auto webhook = patched(uuid, it->second, settings);
    check_webhook(uuid, webhook);
    co_await ctx.store.put_record(workers::kWebhookTable, uuid, webhook.dump());
    co_return http::respond(200, view(uuid, webhook));
}

asio::awaitable<http::Response> remove(Context& ctx, http::Request& r) {
    const auto uuid = path_uuid(r, true);
    const auto all = co_await stored(ctx);
    if (!all.contains(uuid)) throw not_found(uuid);
    co_await ctx.store.erase_record(workers::kWebhookTable, uuid);
    http::Response response;
    response.status = 204;
    co_return response;
}

}  // namespace

void add_webhook_routes(http::Router& router, Context& ctx) {
    router.add(Method::get, "/webhooks", "webhooks.get",
               [&ctx](http::Request&) { return list(ctx); });
    router.add(Method::post, "/webhooks", "webhooks.create",
               [&ctx](http::Request& r) { return create(ctx, r); });
    router.add(Method::get, "/webhooks/{uuid}", "webhooks.get",
               [&ctx](http::Request& r) { return get(ctx, r); });
    router.add(Method::patch, "/webhooks/{uuid}", "webhooks.update",
               [&ctx](http::Request& r) { return update(ctx, r); });
    router.add(Method::del, "/webhooks/{uuid}", "webhooks.delete",
               [&ctx](http::Request& r) { return remove(ctx, r); });
}

}  // namespace miroir::meili
