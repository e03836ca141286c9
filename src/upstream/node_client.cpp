// The connection pool and request exchange of NodeClient.
//
//   send ──► acquire a permit (≤ max_connections) ──► reuse an idle connection or connect
//        ──► write request ──► read response ──► return connection to the pool (or close it)
//
// A connection that saw any error, timeout or cancellation is closed, never pooled: its
// state on the wire is unknown.
#include <algorithm>
#include <mutex>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// Meilisearch (actix-web) closes idle keep-alive connections after 5 s; an idle connection
// older than this is closed rather than reused, to avoid racing the node's own close.
constexpr std::chrono::seconds kIdleMaxAge{4};

// Room for a typical answer in one read: a fresh flat_buffer starts at 512 bytes and reads a
// few-kilobyte search answer in several system calls.
constexpr std::size_t kReadBuffer = 16 * 1024;

struct Connection {
    Connection(asio::any_io_executor ex, const void* context)
        : stream(std::move(ex)), home(context) {
        buffer.reserve(kReadBuffer);
    }
    beast::tcp_stream stream;
    const void* home;  // the execution context (thread) whose requests use it
    beast::flat_buffer buffer;
    Clock::time_point idle_since{};
};

bhttp::verb to_verb(http::Method m) {
    switch (m) {
        case http::Method::get:
            return bhttp::verb::get;
        case http::Method::head:
            return bhttp::verb::head;
        case http::Method::post:
            return bhttp::verb::post;
        case http::Method::put:
            return bhttp::verb::put;
        case http::Method::patch:
            return bhttp::verb::patch;
        case http::Method::del:
            return bhttp::verb::delete_;
        case http::Method::options:
            return bhttp::verb::options;
        case http::Method::other:
            break;
    }
    return bhttp::verb::get;
}

std::string_view outcome_of(const error_code& ec) {
    if (!ec) return "ok";
    if (ec == beast::error::timeout) return "timeout";
    if (ec == asio::error::operation_aborted) return "canceled";
    return "error";
}

// Errors after which the same request may safely go out again on a fresh connection: the
// node closed a pooled connection before reading the request.
bool is_stale_connection(const error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

// The executor under a strand: a connection outlives the request (and strand) it was opened for.
asio::any_io_executor without_strand(const asio::any_io_executor& ex) {
    if (const auto* strand = ex.target<asio::strand<asio::any_io_executor>>()) {
        return strand->get_inner_executor();
    }
    if (const auto* strand = ex.target<asio::strand<asio::io_context::executor_type>>()) {
        return strand->get_inner_executor();
    }
    return ex;
}

}  // namespace

struct NodeClient::Impl {
    Impl(asio::any_io_executor ex, NodeEndpoint ep, PoolOptions opts, metrics::Metrics* m)
        : executor(std::move(ex)),
          endpoint(std::move(ep)),
          options(std::move(opts)),
          metrics(m),
          permits(executor, options.max_connections) {
        for (std::uint32_t i = 0; i < options.max_connections; ++i) permits.try_send(error_code{});
    }

    asio::any_io_executor executor;
    NodeEndpoint endpoint;
    PoolOptions options;
    metrics::Metrics* metrics;
    // A counting semaphore: one message per connection that may be opened or used.
    asio::experimental::concurrent_channel<void(error_code)> permits;

    mutable std::mutex mutex;  // guards idle, open, opened
    std::vector<std::unique_ptr<Connection>> idle;
    std::size_t open = 0;
    std::uint64_t opened = 0;

    std::unique_ptr<Connection> take_idle(const void* home);
    void put_back(std::unique_ptr<Connection> conn);
    void discard(std::unique_ptr<Connection> conn);
    asio::awaitable<error_code> connect(Connection& conn);
    asio::awaitable<UpstreamResult> exchange(Connection& conn, const UpstreamRequest& request,
                                             Clock::time_point deadline, bool& got_bytes,
                                             bool& reusable);
};

std::unique_ptr<Connection> NodeClient::Impl::take_idle(const void* home) {
    std::lock_guard lock(mutex);
    const auto now = Clock::now();
    std::unique_ptr<Connection> found;
    // the most recently used of the caller's context; those idle for too long are closed
    for (std::size_t i = idle.size(); i-- > 0;) {
        auto& conn = idle[i];
        if (now - conn->idle_since >= kIdleMaxAge) {
            error_code ignored;
            conn->stream.socket().close(ignored);
            --open;
        } else if (!found && conn->home == home) {
            found = std::move(conn);
        } else {
            continue;
        }
        idle.erase(idle.begin() + static_cast<std::ptrdiff_t>(i));
    }
    return found;
}

void NodeClient::Impl::put_back(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(mutex);
    // each context (thread) keeps up to idle_connections of its own
    const auto mine = std::count_if(idle.begin(), idle.end(),
                                    [&conn](const auto& c) { return c->home == conn->home; });
    if (static_cast<std::size_t>(mine) >= options.idle_connections) {
        error_code ignored;
        conn->stream.socket().close(ignored);
        --open;
        return;
    }
    conn->idle_since = Clock::now();
    idle.push_back(std::move(conn));
}

void NodeClient::Impl::discard(std::unique_ptr<Connection> conn) {
    if (!conn) return;
    error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    conn->stream.socket().close(ignored);
    std::lock_guard lock(mutex);
    --open;
}

asio::awaitable<error_code> NodeClient::Impl::connect(Connection& conn) {
    {
        std::lock_guard lock(mutex);
        ++open;
        ++opened;
    }
    // resolve and connect within the connect timeout
    tcp::resolver resolver(conn.stream.get_executor());
    auto [rec, results] =
        co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), use_nothrow);
    if (rec) co_return rec;
    conn.stream.expires_after(options.connect_timeout);
    auto [cec, ep] = co_await conn.stream.async_connect(results, use_nothrow);
    if (!cec) conn.stream.socket().set_option(tcp::no_delay(true));
    co_return cec;
}

asio::awaitable<UpstreamResult> NodeClient::Impl::exchange(Connection& conn,
                                                           const UpstreamRequest& request,
                                                           Clock::time_point deadline,
                                                           bool& got_bytes, bool& reusable) {
    bhttp::request<bhttp::string_body> req{to_verb(request.method), request.target, 11};
    req.set(bhttp::field::host, endpoint.host + ":" + std::to_string(endpoint.port));
    req.set(bhttp::field::user_agent, "miroir");
    if (!options.api_key.empty()) req.set(bhttp::field::authorization, "Bearer " + options.api_key);
    for (const auto& f : request.headers.fields()) req.set(f.name, f.value);
    if (!request.body.empty() || request.method == http::Method::post ||
        request.method == http::Method::put || request.method == http::Method::patch) {
        req.set(bhttp::field::content_type, request.content_type);
        req.body() = request.body;
    }
    req.keep_alive(true);
    req.prepare_payload();

    // write the request, then read the whole response, before the deadline
    conn.stream.expires_at(deadline);
    if (auto [ec, n] = co_await bhttp::async_write(conn.stream, req, use_nothrow); ec) {
        co_return ec;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    auto [ec, n] = co_await bhttp::async_read(conn.stream, conn.buffer, parser, use_nothrow);
    got_bytes = n > 0 || parser.got_some();
    if (ec) co_return ec;

    auto& res = parser.get();
    UpstreamResponse out;
    out.status = res.result_int();
    for (const auto& field : res) {
        out.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(res.body());
    reusable = res.keep_alive();
    co_return out;
}

NodeClient::NodeClient(asio::any_io_executor executor, NodeEndpoint endpoint, PoolOptions options,
                       metrics::Metrics* metrics)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(endpoint), std::move(options),
                                   metrics)) {}

NodeClient::~NodeClient() {
    std::lock_guard lock(impl_->mutex);
    for (auto& conn : impl_->idle) {
        error_code ignored;
        conn->stream.socket().close(ignored);
    }
    impl_->idle.clear();
}

asio::awaitable<UpstreamResult> NodeClient::send(UpstreamRequest request,
                                                 std::chrono::milliseconds timeout) {
    auto impl = impl_;
    const auto started = Clock::now();
    // connections of the caller's own io_context: their completions stay on its thread
    const auto caller = co_await asio::this_coro::executor;
    const auto home = without_strand(caller);
    const void* context = &asio::query(home, asio::execution::context);

    // wait for a free connection slot
    if (auto [ec] = co_await impl->permits.async_receive(use_nothrow); ec) {
        co_return ec;
    }
    struct PermitGuard {
        Impl& impl;
        ~PermitGuard() { impl.permits.try_send(error_code{}); }
    } permit{*impl};
    const auto deadline = Clock::now() + timeout;
    UpstreamResult result = make_error_code(asio::error::not_connected);
    for (int attempt = 0; attempt < 2; ++attempt) {
        // reuse an idle connection, or open one
        auto conn = impl->take_idle(context);
        const bool reused = conn != nullptr;
        if (!conn) {
            conn = std::make_unique<Connection>(home, context);
            if (auto ec = co_await impl->connect(*conn); ec) {
                impl->discard(std::move(conn));
                result = ec;
                break;
            }
        }
        // exchange request and response
        bool got_bytes = false;
        bool reusable = false;
        result = co_await impl->exchange(*conn, request, deadline, got_bytes, reusable);
        if (result.has_value() && reusable) {
            impl->put_back(std::move(conn));
        } else {
            impl->discard(std::move(conn));
        }
        if (result.has_value()) break;
        if (!(reused && !got_bytes && is_stale_connection(result.error()))) break;
    }
    const std::chrono::duration<double> elapsed = Clock::now() - started;
    if (result.has_value()) result->elapsed_ms = elapsed.count() * 1000;
    if (impl->metrics) {
        impl->metrics->upstream_request(
            impl->endpoint.id, outcome_of(result.has_error() ? result.error() : error_code{}),
            elapsed.count());
    }
    co_return result;
}

asio::awaitable<UpstreamResult> NodeClient::probe(std::chrono::milliseconds timeout) {
    UpstreamRequest request;
    request.target = "/health";
    co_return co_await send(std::move(request), timeout);
}

const NodeEndpoint& NodeClient::endpoint() const { return impl_->endpoint; }

PoolStats NodeClient::stats() const {
    std::lock_guard lock(impl_->mutex);
    return {impl_->open, impl_->idle.size(), impl_->opened};
}

}  // namespace miroir::upstream
