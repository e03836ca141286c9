// The request pipeline. Its order, and why:
//
//   session ──► request id ──► CORS preflight ──► route ──► auth ──► body limit ──► decode ──►
//                                                                                  handler
//                                                                                     │
//   session ◄── access log ◄── metrics ◄── X-Request-Id, CORS ◄── encode ◄── ApiError → JSON
//
// - The request id comes first so every later log line can carry it.
// - Preflights are answered before auth: browsers never send credentials with them.
// - Auth comes before the body limit, as in Meilisearch, where the auth guard is the first
//   extractor of every handler.
// - A body with a content coding (gzip, deflate, br) is decoded before any handler reads it,
//   its decoded size held to the body limit; a response takes the best coding the client
//   accepts (`server.compress_responses`), as Meilisearch's do.
// - Every exception becomes a response here; nothing escapes to the session.
#include <chrono>
#include <cstdio>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include <miroir/http/api_error.hpp>
#include <miroir/http/encoding.hpp>
#include <miroir/http/pipeline.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/util/uuid.hpp>

namespace miroir::http {

namespace {

using Clock = std::chrono::steady_clock;

// The response encoded with the best coding the client accepts, when it has a body.
void encode_for(const Request& request, Response& response) {
    if (response.body.empty() || response.headers.get("Content-Encoding")) return;
    const auto accept = request.headers.get("Accept-Encoding");
    if (!accept) return;
    const auto coding = response_coding(*accept);
    if (coding.empty()) return;
    response.body = encoded_body(coding, response.body);
    response.headers.set("Content-Encoding", coding);
    response.headers.add("Vary", "accept-encoding");
}

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok) return false;
    }
    return true;
}

// Compares two secrets in time independent of their contents and lengths.
bool secret_equals(std::string_view a, std::string_view b) {
    unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
    SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
    return CRYPTO_memcmp(da, db, SHA256_DIGEST_LENGTH) == 0;
}

// The token of an `Authorization` header, with Meilisearch's rules: a scheme other than
// exactly `Bearer` is 401; `Bearer` without a token is 403.
std::optional<std::string_view> bearer_token(const Request& request) {
    auto header = request.headers.get("Authorization");
    if (!header) return std::nullopt;
    const auto space = header->find(' ');
    const auto scheme = header->substr(0, space);
    if (scheme != "Bearer") throw errors::missing_authorization_header();
    if (space == std::string_view::npos) throw errors::invalid_api_key();
    return header->substr(space + 1);
}

// The status logged for a read whose client closed the connection first (as nginx logs it).
constexpr unsigned kClientClosedRequest = 499;

// Reads may be stopped half-way when their client leaves; writes may not.
bool is_cancellation(const std::exception& e) {
    const auto* error = dynamic_cast<const boost::system::system_error*>(&e);
    return error && error->code() == boost::asio::error::operation_aborted;
}

bool is_read(const Request& request) {
    return request.method == Method::get || request.method == Method::head ||
           request.action == "search" || request.action == "documents.get";
}

Response preflight() {
    Response r;
    r.status = 200;
    r.headers.set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    r.headers.set("Access-Control-Allow-Headers", "*");
    r.headers.set("Access-Control-Max-Age", "86400");
    return r;
}

}  // namespace

Pipeline::Pipeline(const Router& router, PipelineOptions options, metrics::Metrics& metrics)
    : router_(router), options_(std::move(options)), metrics_(metrics) {}

std::optional<std::string> Pipeline::authorize(const Request& request, Access access) const {
    switch (access) {
        case Access::open:
            return std::nullopt;
        case Access::client: {
            const auto token = bearer_token(request);
            if (options_.master_key.empty()) return std::nullopt;
            if (!token) throw errors::missing_authorization_header();
            if (secret_equals(*token, options_.master_key)) return std::nullopt;
            if (!options_.check_api_key) throw errors::invalid_api_key();
            return std::string(*token);
        }
        case Access::admin: {
            if (options_.admin_key.empty()) return std::nullopt;
            auto token = request.headers.get("X-Admin-Key");
            if (!token) token = bearer_token(request);
            if (!token) throw errors::missing_authorization_header();
            if (!secret_equals(*token, options_.admin_key)) throw errors::invalid_api_key();
            return std::nullopt;
        }
    }
    return std::nullopt;
}

bool Pipeline::admits_admin(const Request& request) const {
    try {
        authorize(request, Access::admin);
        return true;
    } catch (const ApiError&) {
        return false;
    }
}

Response Pipeline::error_response(const Request& request, const std::exception& e) const {
    if (is_cancellation(e)) {
        // the client left (server.cpp cancels the handler): nobody reads this answer
        metrics_.client_disconnect();
        Response gone;
        gone.status = kClientClosedRequest;
        gone.close_connection = true;
        return gone;
    }
    if (auto known = options_.error_of ? options_.error_of(e) : std::nullopt) {
        return known->response();
    }
    log::error("handler failed", {{"request_id", request.request_id}, {"error", e.what()}});
    return errors::internal(e.what()).response();
}

boost::asio::awaitable<Response> Pipeline::dispatch(Request& request, const Route& route) const {
    if (const auto coding = request.headers.get("Content-Encoding")) {
        request.body = decoded_body(*coding, std::move(request.body), options_.max_body_bytes);
        request.headers.erase("Content-Encoding");
    }
    const bool client = route.access == Access::client;
    if (options_.resolve && client) options_.resolve(request);
    // hand the request to its handler; a write runs to its end even when the client leaves: it
    // may already be on some nodes, and is reported as a task
    if (is_read(request)) {
        if (options_.around_read && client)
            co_return co_await options_.around_read(request, route.handler);
        co_return co_await route.handler(request);
    }
    co_await boost::asio::this_coro::reset_cancellation_state(boost::asio::disable_cancellation());
    if (options_.around_write && client)
        co_return co_await options_.around_write(request, route.handler);
    co_return co_await route.handler(request);
}

boost::asio::awaitable<Response> Pipeline::handle(Request request) const {
    const auto started = Clock::now();

    // request id: the client's when usable, else a new one
    const auto client_id = request.headers.get("X-Request-Id");
    request.request_id =
        client_id && valid_request_id(*client_id) ? std::string(*client_id) : util::random_uuid();

    // route
    const bool is_preflight = request.method == Method::options &&
                              request.headers.get("Access-Control-Request-Method").has_value();
    const auto match = router_.match(request.method, request.path);
    request.route = is_preflight ? "preflight" : match.route ? match.route->pattern : "unmatched";
    if (match.route) request.action = match.route->action;
    for (auto& [name, value] : match.params) request.params.emplace(name, value);
    metrics_.request_started(request.route, request.method_text);

    Response response;
    bool malformed = false;  // Miroir's parser refused the payload: a node words it better
    try {
        if (is_preflight) {
            response = preflight();
        } else if (!match.route) {
            // Meilisearch (actix-web) answers an unknown path 404 and a known path with
            // another method 405, both with an empty body
            response.status = match.path_exists ? 405 : 404;
        } else {
            if (auto token = authorize(request, match.route->access)) {
                co_await options_.check_api_key(request, std::move(*token));
            }
            if (request.body_too_large) {
                throw errors::payload_too_large(request.body_limit ? request.body_limit
                                                                   : options_.max_body_bytes);
            }
            response = co_await dispatch(request, *match.route);
        }
    } catch (const ApiError& e) {
        response = e.response();
        malformed =
            e.code() == "malformed_payload" && match.route && match.route->access == Access::client;
    } catch (const std::exception& e) {
        response = error_response(request, e);
    }
    if (malformed && options_.explain_malformed) {
        if (auto words = co_await options_.explain_malformed(request)) response = std::move(*words);
    }
    if (request.body_too_large) response.close_connection = true;

    if (options_.compress_responses) encode_for(request, response);
    response.headers.set("X-Request-Id", request.request_id);
    response.headers.set("Access-Control-Allow-Origin", "*");

    const std::chrono::duration<double> elapsed = Clock::now() - started;
    metrics_.request_finished(request.route, request.method_text, response.status, elapsed.count());
    log::info("request", {{"request_id", request.request_id},
                          {"method", request.method_text},
                          {"target", request.target},
                          {"route", request.route},
                          {"status", response.status},
                          {"duration_ms", elapsed.count() * 1000.0},
                          {"bytes_in", static_cast<std::int64_t>(request.body.size())},
                          {"bytes_out", static_cast<std::int64_t>(response.body.size())},
                          {"remote", request.remote_address}});
    co_return response;
}

}  // namespace miroir::http
