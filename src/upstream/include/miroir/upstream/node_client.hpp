// NodeClient: Miroir's HTTP client for one Meilisearch node, with a bounded keep-alive
// connection pool. Every later path (writes, scatter, health) sends through it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <miroir/http/message.hpp>

namespace miroir::metrics {
class Metrics;
}

namespace miroir::upstream {

struct NodeEndpoint {
    std::string id;
    std::string host;
    std::uint16_t port = 0;
};

struct PoolOptions {
    std::uint32_t max_connections = 64;   // in use + idle; further requests wait
    std::uint32_t idle_connections = 16;  // idle ones kept for reuse, per io_context
    std::chrono::milliseconds connect_timeout{1000};
    std::string api_key;  // sent as `Authorization: Bearer` when not empty
};

struct UpstreamRequest {
    http::Method method = http::Method::get;
    std::string target;  // path and query
    std::string body;
    std::string content_type = "application/json";  // used when body is not empty
    http::Headers headers;                          // extra headers
};

struct UpstreamResponse {
    unsigned status = 0;
    http::Headers headers;
    std::string body;
    double elapsed_ms = 0;  // from the send to the whole answer, a connection's opening included
};

// A failed exchange is a value: connection refused, timed out (beast::error::timeout),
// canceled (operation_aborted), closed by the peer...
using UpstreamResult = boost::system::result<UpstreamResponse>;

struct PoolStats {
    std::size_t open = 0;      // connections currently open (idle or in use)
    std::size_t idle = 0;      // idle connections
    std::uint64_t opened = 0;  // connections opened since start
};

class NodeClient {
  public:
    NodeClient(boost::asio::any_io_executor executor, NodeEndpoint endpoint, PoolOptions options,
               metrics::Metrics* metrics = nullptr);
    ~NodeClient();
    NodeClient(const NodeClient&) = delete;
    NodeClient& operator=(const NodeClient&) = delete;

    // Sends one request and reads the whole response within `timeout` (from the moment a
    // connection is available). Cancellation closes the connection in use. A request that
    // fails on a reused keep-alive connection before any response byte is retried once on
    // a new connection.
    boost::asio::awaitable<UpstreamResult> send(UpstreamRequest request,
                                                std::chrono::milliseconds timeout);

    // GET /health within `timeout` (health checks and readiness).
    boost::asio::awaitable<UpstreamResult> probe(std::chrono::milliseconds timeout);

    const NodeEndpoint& endpoint() const;
    PoolStats stats() const;

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace miroir::upstream
