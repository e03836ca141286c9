// Webhooks: a finished Miroir task goes to every registered URL as Meilisearch sends a finished
// batch's tasks: POST, `Content-Type: application/x-ndjson`, `Content-Encoding: gzip`, one task
// view per line, the webhook's headers added, a 30 s timeout, no retry. Miroir runs each task
// as its own batch, so each task is one call. Several pods may see a task finish; the first to
// claim it in the task store sends it.
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/http/encoding.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/scatter/task_state.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/node_client.hpp>
#include <miroir/util/uuid.hpp>
#include <miroir/workers/workers.hpp>

namespace miroir::workers {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

constexpr std::chrono::seconds kTimeout{30};
constexpr std::uint32_t kClaimMs = 24 * 3600 * 1000;

// One POST to one webhook; the outcome counted and, when it failed, logged.
asio::awaitable<void> post(Context& ctx, std::string uuid, json webhook, std::string body) {
    const auto url = webhook.value("url", std::string());
    const auto parsed = boost::urls::parse_uri(url);
    if (!parsed || parsed->scheme() != "http" || parsed->host().empty()) {
        ctx.metrics.webhook_delivery("failed");
        log::warn("webhook not called: Miroir calls http:// URLs",
                  {{"webhook", uuid}, {"url", url}});
        co_return;
    }
    const auto port = parsed->has_port() ? parsed->port_number() : std::uint16_t{80};
    upstream::PoolOptions options;
    options.max_connections = 1;
    options.idle_connections = 0;
    upstream::NodeClient client(ctx.executor, {"webhook", std::string(parsed->host()), port},
                                options);
    upstream::UpstreamRequest request;
    request.method = http::Method::post;
    request.target = std::string(parsed->encoded_target());
    if (request.target.empty()) request.target = "/";
    request.body = std::move(body);
    request.content_type = "application/x-ndjson";
    request.headers.set("Content-Encoding", "gzip");
    const auto headers = webhook.value("headers", json::object());
    for (const auto& [name, value] : headers.items()) {
        if (value.is_string()) request.headers.set(name, value.get<std::string>());
    }
    const auto answer = co_await client.send(std::move(request), kTimeout);
    if (answer && answer->status / 100 == 2) {
        ctx.metrics.webhook_delivery("delivered");
        co_return;
    }
    ctx.metrics.webhook_delivery(answer ? "refused" : "failed");
    log::warn("webhook call failed", {{"webhook", uuid},
                                      {"url", url},
                                      {"error", answer ? "status " + std::to_string(answer->status)
                                                       : answer.error().message()}});
}

asio::awaitable<void> notify(Context& ctx, tasks::Task task) {
    const auto webhooks = co_await ctx.store.records(kWebhookTable);
    if (webhooks.empty()) co_return;
    const auto mine = util::random_uuid();
    const auto first =
        co_await ctx.store.claim("webhook-task:" + std::to_string(task.uid), mine, kClaimMs);
    if (first) co_return;  // another pod sends it
    const auto body = http::encoded_body("gzip", scatter::task_view(task).dump() + "\n");
    for (const auto& [uuid, text] : webhooks) {
        auto webhook = json::parse(text, nullptr, false);
        if (!webhook.is_object()) continue;
        co_await post(ctx, uuid, std::move(webhook), body);
    }
}

}  // namespace

void notify_webhooks(Context& ctx, const tasks::Task& task) {
    asio::co_spawn(ctx.executor, notify(ctx, task), [](const std::exception_ptr& e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& error) {
            log::warn("webhooks not called", {{"error", error.what()}});
        }
    });
}

}  // namespace miroir::workers
