// POST and DELETE /logs/stream, POST /logs/stderr: Miroir's own log lines, as a node serves its
// own (the `logsRoute` experimental feature of the fleet). One client at a time streams a pod's
// lines, filtered by a `target` in tracing's syntax, as text or JSON lines; `/logs/stderr` sets
// what the pod writes to stderr. Each pod serves its own lines: a client behind a load
// balancer sees the pod it reached.
#include <memory>
#include <mutex>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/log/log.hpp>
#include <miroir/log/targets.hpp>
#include <miroir/meili/routes.hpp>

#include "network.hpp"

namespace miroir::meili {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using Channel =
    asio::experimental::concurrent_channel<void(boost::system::error_code, std::string)>;

constexpr std::size_t kHeldLines = 4096;  // for a slow reader; lines beyond are dropped
constexpr std::size_t kLinesPerChunk = 256;

// The stream's client: the lines of its tap, until it leaves or DELETE /logs/stream.
struct Listener {
    explicit Listener(const asio::any_io_executor& executor) : lines(executor, kHeldLines) {}
    ~Listener() { log::clear_tap(tap); }
    Channel lines;
    std::uint64_t tap = 0;
};

std::mutex listener_mutex;
std::weak_ptr<Listener> listener;  // the one streaming, if any

struct StreamAsk {
    log::Threshold threshold = log::Level::info;
    std::string mode = "human";
    bool profile_memory = false;
};

// `target` as a node reads it (default `info`).
log::Threshold threshold_of(const json& target) {
    if (!target.is_string()) {
        throw http::bad_request("Invalid value type at `.target`: expected a string, but found " +
                                http::found_value(target));
    }
    auto parsed = log::parse_targets(target.get<std::string>());
    if (auto* message = std::get_if<std::string>(&parsed)) {
        throw http::bad_request("Invalid value at `.target`: " + *message);
    }
    return std::get<log::Threshold>(parsed);
}

// A body of POST /logs/stream, checked as a node checks it (every error `bad_request`).
StreamAsk stream_ask(const json& body) {
    if (!body.is_object()) {
        throw http::bad_request("Invalid value type: expected an object, but found " +
                                http::found_value(body));
    }
    StreamAsk ask;
    for (const auto& [key, value] : body.items()) {
        if (key == "target") {
            ask.threshold = threshold_of(value);
        } else if (key == "mode") {
            if (!value.is_string()) {
                throw http::bad_request(
                    "Invalid value type at `.mode`: expected a string, but found " +
                    http::found_value(value));
            }
            ask.mode = value.get<std::string>();
            if (ask.mode != "human" && ask.mode != "json" && ask.mode != "profile") {
                throw http::bad_request("Unknown value `" + ask.mode +
                                        "` at `.mode`: expected one of `human`, `json`, "
                                        "`profile`");
            }
        } else if (key == "profileMemory") {
            if (!value.is_boolean()) {
                throw http::bad_request(
                    "Invalid value type at `.profileMemory`: expected a boolean, but found " +
                    http::found_value(value));
            }
            ask.profile_memory = value.get<bool>();
        } else {
            throw http::bad_request("Unknown field `" + key +
                                    "`: expected one of `target`, `mode`, `profileMemory`");
        }
    }
    if (ask.profile_memory && ask.mode != "profile") {
        std::string mode = ask.mode;
        mode[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(mode[0])));
        throw http::error(400, "invalid_settings_typo_tolerance",
                          "Invalid value: `profile_memory` can only be used while profiling code "
                          "and is not compatible with the " +
                              mode + " mode.");
    }
    return ask;
}

asio::awaitable<void> require_logs_feature(Context& ctx) {
    co_await require_feature(ctx, "logsRoute", "Modifying logs through the `/logs/*` routes",
                             "logs route", "https://github.com/orgs/meilisearch/discussions/721");
}

// The next lines of `l` as one piece: the first it waits for, then those already held.
asio::awaitable<std::optional<std::string>> next_lines(std::shared_ptr<Listener> l) {
    auto [ec, line] = co_await l->lines.async_receive(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return std::nullopt;
    std::string piece = std::move(line);
    for (std::size_t i = 1; i < kLinesPerChunk; ++i) {
        const bool more =
            l->lines.try_receive([&piece](boost::system::error_code e, std::string next) {
                if (!e) piece += next;
            });
        if (!more) break;
    }
    co_return piece;
}

asio::awaitable<http::Response> stream_logs(Context& ctx, http::Request& r) {
    const auto ask = stream_ask(http::json_body(r));
    co_await require_logs_feature(ctx);
    auto l = std::make_shared<Listener>(co_await asio::this_coro::executor);
    {
        std::lock_guard lock(listener_mutex);
        if (listener.lock()) {
            throw http::bad_request(
                "The `/logs/stream` route is currently in use by someone else.");
        }
        if (ask.mode == "profile") {
            throw http::error(501, "miroir_log_profile_unsupported",
                              "Miroir has no profile of its own code to stream: use the `human` "
                              "or `json` mode.");
        }
        listener = l;
    }
    if (ask.threshold) {
        const std::weak_ptr<Listener> weak = l;
        const auto format = ask.mode == "json" ? log::TapFormat::json : log::TapFormat::human;
        l->tap = log::set_tap(*ask.threshold, format, [weak](std::string line) {
            if (auto held = weak.lock()) held->lines.try_send(boost::system::error_code{}, line);
        });
    }
    http::Response response;
    response.headers.set("X-Accel-Buffering", "no");
    response.stream = [l] { return next_lines(l); };
    co_return response;
}

asio::awaitable<http::Response> cancel_logs(Context& ctx) {
    co_await require_logs_feature(ctx);
    std::shared_ptr<Listener> l;
    {
        std::lock_guard lock(listener_mutex);
        l = listener.lock();
        listener.reset();
    }
    if (l) {
        log::clear_tap(l->tap);
        l->lines.close();
    }
    co_return http::Response{204, {}, {}};
}

asio::awaitable<http::Response> stderr_logs(Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    if (!body.is_object()) {
        throw http::bad_request("Invalid value type: expected an object, but found " +
                                http::found_value(body));
    }
    log::Threshold threshold = log::Level::info;
    for (const auto& [key, value] : body.items()) {
        if (key != "target") {
            throw http::bad_request("Unknown field `" + key + "`: expected one of `target`");
        }
        threshold = threshold_of(value);
    }
    co_await require_logs_feature(ctx);
    log::set_stderr_threshold(threshold);
    co_return http::Response{204, {}, {}};
}

}  // namespace

void add_log_routes(http::Router& router, Context& ctx) {
    router.add(Method::post, "/logs/stream", "metrics.get",
               [&ctx](http::Request& r) { return stream_logs(ctx, r); });
    router.add(Method::del, "/logs/stream", "metrics.get",
               [&ctx](http::Request&) { return cancel_logs(ctx); });
    router.add(Method::post, "/logs/stderr", "metrics.get",
               [&ctx](http::Request& r) { return stderr_logs(ctx, r); });
}

}  // namespace miroir::meili
