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
#include <miroir/http/webhooks.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/util/uuid.hpp>
#include <miroir/workers/workers.hpp>

namespace miroir::meili {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// Every webhook, by uuid.
asio::awaitable<std::map<std::string, json>> stored(Context& ctx) {
    std::map<std::string, json> out;
    for (const auto& [uuid, text] : co_await ctx.store.records(workers::kWebhookTable)) {
        out[uuid] = json::parse(text, nullptr, false);
    }
    co_return out;
}

asio::awaitable<http::Response> list(Context& ctx) {
    json results = json::array();
    for (const auto& [uuid, webhook] : co_await stored(ctx))
        results.push_back(http::webhook_view(uuid, webhook));
    json out;
    out["results"] = std::move(results);
    co_return http::respond(200, out);
}

asio::awaitable<http::Response> get(Context& ctx, http::Request& r) {
    const auto uuid = http::webhook_path_uuid(r.param("uuid"), false);
    auto all = co_await stored(ctx);
    const auto it = all.find(uuid);
    if (it == all.end()) throw http::not_found(uuid);
    co_return http::respond(200, http::webhook_view(uuid, it->second));
}

asio::awaitable<http::Response> create(Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    const auto uuid = util::random_uuid();
    const auto all = co_await stored(ctx);
    const auto webhook = http::new_webhook(uuid, body, all.size());
    co_await ctx.store.put_record(workers::kWebhookTable, uuid, webhook.dump());
    co_return http::respond(201, http::webhook_view(uuid, webhook));
}

asio::awaitable<http::Response> update(Context& ctx, http::Request& r) {
    const auto uuid = http::webhook_path_uuid(r.param("uuid"), true);
    const auto body = http::json_body(r);
    const auto settings = http::webhook_settings(body);
    auto all = co_await stored(ctx);
    const auto it = all.find(uuid);
    if (it == all.end()) throw http::not_found(uuid);
    auto webhook = http::patched(uuid, it->second, settings);
    http::check_webhook(uuid, webhook);
    co_await ctx.store.put_record(workers::kWebhookTable, uuid, webhook.dump());
    co_return http::respond(200, http::webhook_view(uuid, webhook));
}

asio::awaitable<http::Response> remove(Context& ctx, http::Request& r) {
    const auto uuid = http::webhook_path_uuid(r.param("uuid"), true);
    const auto all = co_await stored(ctx);
    if (!all.contains(uuid)) throw http::not_found(uuid);
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
