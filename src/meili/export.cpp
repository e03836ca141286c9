// POST /export: every document of the indexes the patterns select (and their settings) sent to
// another Meilisearch, or another Miroir, as a node exports. Miroir runs the export itself, as a
// task of its own with no node task: the destination's key never reaches a node. For each
// index (Miroir's, in uid order, the first matching pattern's options): the destination's index
// is created with the primary key when it lacks it (else, with `overrideSettings`, its primary
// key updated), the settings sent when it was created or `overrideSettings` says so (Miroir's
// fields left out), then the documents (the pattern's filter), one replica of each shard, read
// page by page from a covering set and sent as gzip'd NDJSON payloads of at most `payloadSize`
// (default 50 MiB), without Miroir's fields. The task ends succeeded with each index's
// `matchedDocuments`, or failed with the first error.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/encoding.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/log/log.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/meili/ttl.hpp>
#include <miroir/merge/search.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/node_client.hpp>

#include "export_request.hpp"
#include "route.hpp"

namespace miroir::meili {

using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

constexpr std::chrono::seconds kDestinationTimeout{30};
constexpr std::uint64_t kPage = 1000;  // documents read from a node at a time

// A failure of the export, as the task's error.
struct ExportFailure {
    std::string code, message;
};

// The destination: its client, the path its URL starts with, and the key.
class Destination {
  public:
    Destination(asio::any_io_executor executor, const ExportRequest& request)
        : key_(request.api_key) {
        const auto url = boost::urls::parse_uri(request.url);
        if (!url || url->scheme() != "http" || url->host().empty()) {
            throw ExportFailure{"invalid_export_url",
                                "Miroir exports to http:// URLs: `" + request.url + "`."};
        }
        base_ = std::string(url->encoded_path());
        while (!base_.empty() && base_.back() == '/') base_.pop_back();
        upstream::PoolOptions options;
        options.max_connections = 1;
        client_ = std::make_unique<upstream::NodeClient>(
            executor,
            upstream::NodeEndpoint{"export", std::string(url->host()),
                                   url->has_port() ? url->port_number() : std::uint16_t{80}},
            options);
    }

    asio::awaitable<upstream::UpstreamResponse> send(Method method, const std::string& path,
                                                     std::string body = "",
                                                     std::string type = "application/json",
                                                     bool gzip = false) {
        upstream::UpstreamRequest request;
        request.method = method;
        request.target = base_ + path;
        request.body = std::move(body);
        request.content_type = std::move(type);
        if (key_) request.headers.set("Authorization", "Bearer " + *key_);
        if (gzip) request.headers.set("Content-Encoding", "gzip");
        // a destination that cannot answer now is asked again, after 1, 2 and 4 seconds
        auto answer = co_await client_->send(request, kDestinationTimeout);
        for (int wait = 1; (!answer || answer->status >= 500) && wait <= 4; wait *= 2) {
            asio::steady_timer timer(co_await asio::this_coro::executor,
                                     std::chrono::seconds(wait));
            co_await timer.async_wait(asio::use_awaitable);
            answer = co_await client_->send(request, kDestinationTimeout);
        }
        if (!answer) {
            throw ExportFailure{"remote_could_not_send_request",
                                "The export could not reach `" + base_ + path +
                                    "`: " + answer.error().message() + "."};
        }
        co_return std::move(*answer);
    }

  private:
    std::optional<std::string> key_;
    std::string base_;
    std::unique_ptr<upstream::NodeClient> client_;
};

// A destination's answer that is an error, as the export's failure, in a node's words.
void check(const upstream::UpstreamResponse& answer, const char* what) {
    if (answer.status < 400) return;
    const auto body = json::parse(answer.body, nullptr, false);
    if (!body.is_object()) {
        throw ExportFailure{"internal", std::string("The destination refused ") + what + " (" +
                                            std::to_string(answer.status) + ")."};
    }
    throw ExportFailure{"internal", "Failed to export documents to remote server " +
                                        body.value("code", "") + " (" + body.value("type", "") +
                                        "): " + body.value("message", "") + " <" +
                                        body.value("link", "") + ">"};
}

// The index's settings as its client sees them, from the first node that answers.
asio::awaitable<json> index_settings(fleet::Context& ctx, const std::string& uid) {
    const auto answer =
        co_await first_answer(ctx, node_request(Method::get, index_path(uid) + "/settings"));
    if (!answer || answer->status != 200) {
        throw ExportFailure{"miroir_no_quorum", "No node gave the settings of `" + uid + "`."};
    }
    co_return client_settings(json::parse(answer->body));
}

// One payload of documents, gzip'd NDJSON; `payload` is emptied.
asio::awaitable<void> send_payload(Destination& to, const std::string& path, std::string& payload) {
    if (payload.empty()) co_return;
    auto body = http::encoded_body("gzip", payload);
    payload.clear();
    check(co_await to.send(Method::post, path, std::move(body), "application/x-ndjson", true),
          "documents");
}

// The index uids, in uid order, from the first node that answers.
asio::awaitable<std::vector<std::string>> index_uids(fleet::Context& ctx) {
    const auto answer =
        co_await first_answer(ctx, node_request(Method::get, "/indexes?limit=1000000"));
    if (!answer || answer->status != 200) {
        throw ExportFailure{"miroir_no_quorum", "No node listed the indexes."};
    }
    std::vector<std::string> out;
    const auto listed = json::parse(answer->body);
    for (const auto& index : listed["results"]) {
        out.push_back(index["uid"].get<std::string>());
    }
    co_return out;
}

// Sends the index's documents matching `filter`, one replica of each shard, in payloads of at
// most `limit` bytes; returns how many.
asio::awaitable<std::uint64_t> send_documents(fleet::Context& ctx, Destination& to,
                                              const std::string& uid, const json& filter,
                                              std::uint64_t limit, const std::string& pk) {
    const auto fleet = ctx.fleet_of(uid);
    const auto plan = covering_set(ctx, *fleet, 0, true);
    const std::string path = index_path(uid) + "/documents?primaryKey=" + http::percent_encode(pk);
    // documents that expired are not sent; the others keep their expiry
    json scope;
    scope["filter"] = filter;
    hide_expired(fleet->topology(), uid, scope);
    const bool ttl = fleet->topology().ttl_of(uid) != nullptr;
    std::string payload;
    std::uint64_t sent = 0;
    for (const auto& a : plan) {
        for (std::uint64_t offset = 0;; offset += kPage) {
            json page;
            page["offset"] = offset;
            page["limit"] = kPage;
            page["retrieveVectors"] = true;
            const json f = a.restricted ? with_shards(scope["filter"], a.shards) : scope["filter"];
            if (!f.is_null()) page["filter"] = f;
            const auto answer = co_await ctx.nodes[a.node]->send(
                node_request(Method::post, index_path(uid) + "/documents/fetch", page.dump()),
                std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms));
            if (!answer || answer->status != 200) {
                throw ExportFailure{answer ? "invalid_document_filter" : "miroir_no_quorum",
                                    answer ? json::parse(answer->body).value("message", "")
                                           : "A node did not give its documents of `" + uid + "`."};
            }
            auto docs = json::parse(answer->body)["results"];
            for (auto& doc : docs) {
                merge::strip_reserved(doc, ttl);
                auto line = doc.dump() + "\n";
                if (!payload.empty() && payload.size() + line.size() > limit) {
                    co_await send_payload(to, path, payload);
                }
                payload += line;
                ++sent;
            }
            if (docs.size() < kPage) break;
        }
    }
    co_await send_payload(to, path, payload);
    co_return sent;
}

// One index to the destination; its matched documents.
asio::awaitable<std::uint64_t> export_index(fleet::Context& ctx, Destination& to,
                                            const std::string& uid, const ExportIndex& options,
                                            std::uint64_t limit) {
    const auto record = co_await lookup_index(ctx, uid);
    const std::string pk = record && record->primary_key ? *record->primary_key : "";
    const auto existing = co_await to.send(Method::get, index_path(uid));
    const bool exists = existing.status == 200;
    if (!exists && existing.status != 404) check(existing, "the index lookup");
    json pk_body;
    pk_body["primaryKey"] = pk.empty() ? json() : json(pk);
    if (!exists) {
        json create = pk_body;
        create["uid"] = uid;
        check(co_await to.send(Method::post, "/indexes", create.dump()), "the index creation");
    } else if (options.override_settings) {
        check(co_await to.send(Method::patch, index_path(uid), pk_body.dump()), "the primary key");
    }
    if (!exists || options.override_settings) {
        const auto settings = co_await index_settings(ctx, uid);
        check(co_await to.send(Method::patch, index_path(uid) + "/settings", settings.dump()),
              "the settings");
    }
    co_return co_await send_documents(ctx, to, uid, options.filter, limit, pk);
}

asio::awaitable<void> run_export(fleet::Context& ctx, tasks::Task task, ExportRequest request) {
    task.status = "processing";
    task.started_at = now_ns();
    co_await ctx.store.update(task);
    auto details = json::parse(task.details);
    json done = json::object();
    try {
        std::optional<Destination> to;  // reached only when some index matches
        const auto uids = co_await index_uids(ctx);
        for (const auto& uid : uids) {
            const auto* options = request.options_for(uid);
            if (!options) continue;
            if (!to) to.emplace(ctx.executor, request);
            const auto matched =
                co_await export_index(ctx, *to, uid, *options, request.payload_size);
            json one;
            one["filter"] = options->filter;
            one["overrideSettings"] = options->override_settings;
            one["matchedDocuments"] = matched;
            done[uid] = std::move(one);
        }
        details["indexes"] = std::move(done);
        task.status = "succeeded";
    } catch (const ExportFailure& failure) {
        task.status = "failed";
        const auto type = failure.code == "internal" ? http::ErrorType::internal
                                                     : http::ErrorType::invalid_request;
        task.error = http::ApiError(400, failure.code, type, failure.message).body();
    } catch (const std::exception& error) {
        task.status = "failed";
        task.error = http::errors::internal(error.what()).body();
    }
    task.details = details.dump();
    task.finished_at = now_ns();
    co_await ctx.store.update(task);
    if (ctx.task_finished) ctx.task_finished(task);
}

asio::awaitable<http::Response> start_export(fleet::Context& ctx, http::Request& r) {
    auto request = parse_export(http::json_body(r));
    auto task = new_task("", "export", request.details(), 1);
    co_await record(ctx, task);
    asio::co_spawn(ctx.executor, run_export(ctx, task, std::move(request)),
                   [uid = task.uid](const std::exception_ptr& e) {
                       if (!e) return;
                       try {
                           std::rethrow_exception(e);
                       } catch (const std::exception& error) {
                           log::warn("export stopped",
                                     {{"task", std::to_string(uid)}, {"error", error.what()}});
                       }
                   });
    // 200, not 202: Meilisearch answers an export so
    co_return http::Response::json(200, summary(task).dump());
}

}  // namespace

void add_export_routes(http::Router& router, fleet::Context& ctx) {
    add_route(router, ctx, Method::post, "/export", "export", start_export);
}

}  // namespace miroir::meili
