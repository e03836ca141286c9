// Pipeline: the one function every request goes through after the session read it —
// request id, CORS, routing, auth, body limit, handler, error mapping, metrics, access log.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <miroir/http/message.hpp>
#include <miroir/http/router.hpp>

namespace miroir::metrics {
class Metrics;
}

namespace miroir::http {

struct PipelineOptions {
    std::string master_key;  // empty: Meilisearch routes are open
    std::string admin_key;   // empty: /_miroir routes are open
    std::uint64_t max_body_bytes = 104857600;
    // Responses take the best content coding the client accepts (Accept-Encoding).
    bool compress_responses = true;
    // Decides a client request whose token is not the master key (an API key): throws the
    // error Meilisearch answers, or returns having set Request::key_indexes as the key allows.
    // Unset: such a token is refused.
    std::function<boost::asio::awaitable<void>(Request&, std::string token)> check_api_key;
    // The client's error for an exception of a lower layer that is not an ApiError (such as the
    // task store out of reach); nullopt, or unset: 500 internal.
    std::function<std::optional<ApiError>(const std::exception&)> error_of;
    // A client request Miroir found malformed (malformed_payload): the error a node gives for
    // it, in its parser's own words; nullopt, or unset: Miroir's.
    std::function<boost::asio::awaitable<std::optional<Response>>(const Request&)>
        explain_malformed;
    // Rewrites a Meilisearch request (a client route) once its key is checked, before its
    // handler: the aliases. Unset: nothing.
    std::function<void(Request&)> resolve;
    // Runs a Meilisearch write (a client route that is not a read) around its handler: the
    // idempotency keys. Unset: the handler alone.
    std::function<boost::asio::awaitable<Response>(Request&, const Handler&)> around_write;
    // Runs a Meilisearch read (a client route) around its handler: the read-your-writes
    // sessions. Unset: the handler alone.
    std::function<boost::asio::awaitable<Response>(Request&, const Handler&)> around_read;
};

class Pipeline {
  public:
    Pipeline(const Router& router, PipelineOptions options, metrics::Metrics& metrics);

    boost::asio::awaitable<Response> handle(Request request) const;
    // Whether the request's key opens the /_miroir routes (seen before its body is read).
    bool admits_admin(const Request& request) const;

  private:
    // Throws when the request may not use its route; returns the token still to be checked
    // as an API key.
    std::optional<std::string> authorize(const Request& request, Access access) const;
    // The answer to a handler's exception that is not an ApiError.
    Response error_response(const Request& request, const std::exception& e) const;
    // A request allowed to use its route: its body decoded, its aliases resolved, then its
    // handler (through the read or write hook).
    boost::asio::awaitable<Response> dispatch(Request& request, const Route& route) const;

    const Router& router_;
    PipelineOptions options_;
    metrics::Metrics& metrics_;
};

}  // namespace miroir::http
