// The HTTP/1.1 listener and its sessions. One coroutine per connection, on its own strand:
//
//   accept ──► wait for first byte (idle timeout) ──► read header (header timeout)
//          ──► read body (body timeout, size limit) ──► handler ──► write ──► loop / close
//
// Shutdown is two-stage: stop accepting and close idle connections; after the grace period,
// close the rest. Normal ends of a connection (peer closed, timeout, shutdown) are values,
// not errors. A client that closes its connection while its request is handled cancels the
// handler (see client_gone); the pipeline decides which handlers may stop half-way.
#include <array>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <mutex>
#include <set>
#include <sys/socket.h>
#include <system_error>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <miroir/http/server.hpp>
#include <miroir/log/log.hpp>

#include "from_header.hpp"

namespace miroir::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

struct Session {
    explicit Session(tcp::socket socket) : stream(std::move(socket)) {
        error_code ec;
        const auto remote = stream.socket().remote_endpoint(ec);
        if (!ec) remote_address = remote.address().to_string();
    }
    beast::tcp_stream stream;
    std::string remote_address;  // the client's, read once per connection
    bool busy = false;           // between the first byte of a request and the end of its response
};

// The normal ways for a connection to end: no log line for them.
bool is_normal_end(const error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::operation_aborted || ec == beast::error::timeout ||
           ec == asio::error::connection_reset || ec == asio::error::bad_descriptor ||
           ec == asio::error::broken_pipe || ec == asio::error::not_connected;
}

// Lingering close: discards what the peer still sends, up to a bound in bytes and time.
asio::awaitable<void> linger(beast::tcp_stream& stream) {
    constexpr std::size_t kMaxBytes = 64 * 1024 * 1024;
    std::array<char, 16 * 1024> scratch;
    std::size_t total = 0;
    stream.expires_after(std::chrono::seconds(5));
    while (total < kMaxBytes) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), use_nothrow);
        if (ec) break;
        total += n;
    }
}

// Answers 400 to a request whose header cannot be read, then closes the connection; what the
// client still sends is read and dropped, so that the answer is not lost to a reset.
asio::awaitable<void> refuse_header(beast::tcp_stream& stream, error_code ec) {
    log::debug("bad request header", {{"error", ec.message()}});
    bhttp::response<bhttp::string_body> bad{bhttp::status::bad_request, 11};
    bad.set(bhttp::field::connection, "close");
    bad.prepare_payload();
    co_await bhttp::async_write(stream, bad, use_nothrow);
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    co_await linger(stream);
}

// Waits until the client closes its end of the connection (true), or sends the next request
// before this one is answered (false: pipelining; the read loop sees it later).
asio::awaitable<bool> client_gone(tcp::socket& socket) {
    for (;;) {
        auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
        if (ec == asio::error::operation_aborted) co_return false;
        if (ec) co_return true;
        char byte = 0;
        const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0) co_return true;
        if (n > 0) co_return false;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return true;
    }
}

// The cancellation condition of a handler raced against client_gone: an answer stops the
// watch; the client leaving cancels the handler; a pipelined request changes nothing.
struct UntilAnsweredOrGone {
    asio::cancellation_type_t operator()(const std::exception_ptr&, const Response&) const {
        return asio::cancellation_type::terminal;
    }
    asio::cancellation_type_t operator()(const std::exception_ptr&, bool gone) const {
        return gone ? asio::cancellation_type::terminal : asio::cancellation_type::none;
    }
};

// A co_spawn completion handler that logs the exception a coroutine ended with.
auto log_exception(const char* what) {
    return [what](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log::error(what, {{"error", ex.what()}});
        }
    };
}

bhttp::response<bhttp::string_body> to_beast(Response&& in, unsigned version, bool head) {
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(in.status), version};
    for (auto& field : in.headers.fields()) out.insert(field.name, field.value);
    out.body() = std::move(in.body);
    out.prepare_payload();
    if (head) out.body().clear();
    return out;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    Impl(asio::any_io_executor ex, ServerOptions opts, RequestHandler h,
         std::vector<asio::any_io_executor> session_ex)
        : executor(std::move(ex)),
          session_executors(std::move(session_ex)),
          options(std::move(opts)),
          handler(std::move(h)),
          acceptor(asio::make_strand(executor)),
          grace_timer(executor) {
        if (session_executors.empty()) session_executors.push_back(executor);
    }

    asio::any_io_executor executor;
    std::vector<asio::any_io_executor> session_executors;  // taken in turn
    std::size_t next_session = 0;                          // only the accept loop uses it
    ServerOptions options;
    RequestHandler handler;
    tcp::acceptor acceptor;
    asio::steady_timer grace_timer;
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> accepted{0};

    mutable std::mutex mutex;  // guards sessions and on_drained
    std::set<std::shared_ptr<Session>> sessions;
    std::function<void()> on_drained;

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> run_session(std::shared_ptr<Session> session);
    asio::awaitable<bool> serve_one(Session& session, beast::flat_buffer& buffer);
    asio::awaitable<std::optional<bool>> read_to_file(
        Session& session, beast::flat_buffer& buffer,
        bhttp::request_parser<bhttp::string_body>& header, const Spool& spool);
    asio::awaitable<std::optional<bool>> read_to_memory(
        Session& session, beast::flat_buffer& buffer,
        bhttp::request_parser<bhttp::string_body>& parser, Request& request);
    asio::awaitable<bool> write_response(Session& session, Response response, unsigned version,
                                         bool head, bool close, bool too_large);
    asio::awaitable<void> write_stream(Session& session, Response response, unsigned version);
    void forget(const std::shared_ptr<Session>& session);
    std::size_t active_count() const {
        std::lock_guard lock(mutex);
        return sessions.size();
    }
    void close_sessions(bool only_idle);
};

asio::awaitable<void> Server::Impl::accept_loop() {
    auto self = shared_from_this();
    for (;;) {
        // wait for the next connection
        const auto& home = session_executors[next_session++ % session_executors.size()];
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(home), use_nothrow);
        if (ec == asio::error::operation_aborted || stopping) co_return;
        if (ec) {
            log::warn("accept failed", {{"error", ec.message()}});
            continue;
        }
        accepted.fetch_add(1, std::memory_order_relaxed);
        auto session = std::make_shared<Session>(std::move(socket));
        {
            std::lock_guard lock(mutex);
            sessions.insert(session);
        }
        auto session_executor = session->stream.get_executor();
        asio::co_spawn(session_executor, run_session(session),
                       log_exception("session ended by an exception"));
    }
}

asio::awaitable<void> Server::Impl::run_session(std::shared_ptr<Session> session) {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    try {
        while (!stopping && co_await serve_one(*session, buffer)) {
        }
    } catch (...) {
        forget(session);
        throw;
    }
    forget(session);
}

// Reads one request, answers it; false when the connection must end.
asio::awaitable<bool> Server::Impl::serve_one(Session& session, beast::flat_buffer& buffer) {
    auto& stream = session.stream;
    session.busy = false;

    // wait for the first byte of the next request (keep-alive idle time)
    if (buffer.size() == 0) {
        stream.expires_after(options.idle_timeout);
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kHeaderLimit), use_nothrow);
        if (ec) co_return false;
        buffer.commit(n);
    }
    session.busy = true;

    // read the header
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(boost::none);  // the request's limit is known once its header is
    stream.expires_after(options.header_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, use_nothrow);
    if (!ec && undetermined_length(parser.get().base(), parser.chunked())) {
        ec = bhttp::error::bad_transfer_encoding;
    }
    if (ec) {
        if (!is_normal_end(ec)) co_await refuse_header(stream, ec);
        co_return false;
    }
    const unsigned version = parser.get().version();
    const bool head = parser.get().method() == bhttp::verb::head;
    bool keep_alive = parser.get().keep_alive();
    Request request = from_header(parser.get(), session.remote_address);

    // read the body: to a file when the request's is kept on disk, else within the size limit
    const auto spool = options.spool ? options.spool(request) : std::nullopt;
    std::optional<bool> read;
    if (spool) {
        read = co_await read_to_file(session, buffer, parser, *spool);
    } else {
        read = co_await read_to_memory(session, buffer, parser, request);
    }
    if (!read) co_return false;
    const bool too_large = *read;
    if (spool && !too_large) request.body_file = spool->path;
    keep_alive = keep_alive && !too_large;
    request.body_too_large = too_large;
    request.body_limit = spool ? spool->max_bytes : options.max_body_bytes;
    const std::string body_file = request.body_file;  // removed after the answer, unless moved

    // hand the request to the pipeline, watching for the client leaving meanwhile: then the
    // handler is cancelled (the pipeline lets reads be, and lets writes finish)
    stream.expires_never();
    const auto strand = co_await asio::this_coro::executor;
    const UntilAnsweredOrGone until;  // not a temporary in co_await (GCC 12)
    auto [order, handler_error, response, watch_error, gone] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(strand, handler(std::move(request)), asio::deferred),
            asio::co_spawn(strand, client_gone(stream.socket()), asio::deferred))
            .async_wait(until, asio::use_awaitable);
    if (!body_file.empty()) {
        error_code ignored;
        std::filesystem::remove(body_file, ignored);
    }
    if (handler_error) std::rethrow_exception(handler_error);

    if (response.stream && !gone && !head) {
        co_await write_stream(session, std::move(response), version);
        co_return false;
    }

    // write the response
    const bool close = !keep_alive || response.close_connection || stopping || gone;
    co_return co_await write_response(session, std::move(response), version, head, close,
                                      too_large);
}

// A body read into `request` within max_body_bytes: whether it was over the limit, nullopt when
// the connection must end.
asio::awaitable<std::optional<bool>> Server::Impl::read_to_memory(
    Session& session, beast::flat_buffer& buffer, bhttp::request_parser<bhttp::string_body>& parser,
    Request& request) {
    // a Content-Length over the limit is refused with the header
    if (parser.content_length().value_or(0) > options.max_body_bytes) co_return true;
    parser.body_limit(options.max_body_bytes);
    session.stream.expires_after(options.body_timeout);
    auto [ec, n] = co_await bhttp::async_read(session.stream, buffer, parser, use_nothrow);
    if (ec == bhttp::error::body_limit) co_return true;
    if (ec) co_return std::nullopt;
    request.body = std::move(parser.get().body());
    co_return false;
}

// A body written to `spool.path` as it arrives, each read within the body timeout (an upload
// may take longer than any whole-body timeout): whether it was over the limit (the file is
// then removed), nullopt when the connection must end.
asio::awaitable<std::optional<bool>> Server::Impl::read_to_file(
    Session& session, beast::flat_buffer& buffer, bhttp::request_parser<bhttp::string_body>& header,
    const Spool& spool) {
    auto& stream = session.stream;
    const auto limit =
        spool.max_bytes ? spool.max_bytes : std::numeric_limits<std::uint64_t>::max();
    if (header.content_length().value_or(0) > limit) co_return true;
    bhttp::request_parser<bhttp::file_body> parser(std::move(header));
    parser.body_limit(limit);
    error_code ec;
    parser.get().body().open(spool.path.c_str(), beast::file_mode::write, ec);
    if (ec) {
        log::error("cannot write an upload", {{"file", spool.path}, {"error", ec.message()}});
        co_return std::nullopt;
    }
    while (!parser.is_done()) {
        stream.expires_after(options.body_timeout);
        auto [read_ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, use_nothrow);
        if (!read_ec) continue;
        parser.get().body().close();
        error_code ignored;
        std::filesystem::remove(spool.path, ignored);
        if (read_ec == bhttp::error::body_limit) co_return true;
        co_return std::nullopt;
    }
    parser.get().body().close();
    co_return false;
}

// A response written whole; false when the connection must end (`close`, or a write that
// failed).
asio::awaitable<bool> Server::Impl::write_response(Session& session, Response response,
                                                   unsigned version, bool head, bool close,
                                                   bool too_large) {
    auto& stream = session.stream;
    auto out = to_beast(std::move(response), version, head);
    out.keep_alive(!close);
    stream.expires_after(options.body_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, out, use_nothrow);
    if (ec || close) {
        error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        // a refused body may still be arriving: read and drop it for a while, so that closing
        // with unread input does not reset the connection before the client reads the answer
        if (!ec && too_large) co_await linger(stream);
        co_return false;
    }
    co_return true;
}

// A streamed body: the header, then each piece as a chunk as soon as it is produced, until the
// stream ends, the client leaves or the server stops (checked every second); the connection
// closes after it.
asio::awaitable<void> Server::Impl::write_stream(Session& session, Response response,
                                                 unsigned version) {
    using namespace asio::experimental::awaitable_operators;
    auto& stream = session.stream;
    bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(response.status), version};
    for (auto& field : response.headers.fields()) head.insert(field.name, field.value);
    head.chunked(true);
    head.keep_alive(false);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    stream.expires_after(options.body_timeout);
    if (auto [ec, n] = co_await bhttp::async_write_header(stream, serializer, use_nothrow); ec) {
        co_return;
    }
    asio::steady_timer tick(co_await asio::this_coro::executor);
    bool watch = true;  // false once the client pipelined a request: it is not read any more
    while (!stopping) {
        stream.expires_never();
        tick.expires_after(std::chrono::seconds(1));
        std::optional<std::string> piece;
        if (watch) {
            auto next = co_await (response.stream() || client_gone(stream.socket()) ||
                                  tick.async_wait(asio::use_awaitable));
            if (next.index() == 2) continue;
            if (next.index() == 1) {
                if (std::get<1>(next)) break;
                watch = false;
                continue;
            }
            piece = std::move(std::get<0>(next));
        } else {
            auto next = co_await (response.stream() || tick.async_wait(asio::use_awaitable));
            if (next.index() == 1) continue;
            piece = std::move(std::get<0>(next));
        }
        if (!piece) break;
        if (piece->empty()) continue;  // an empty chunk would end the body
        stream.expires_after(options.body_timeout);
        auto [ec, n] = co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(*piece)),
                                                  use_nothrow);
        if (ec) break;
    }
    stream.expires_after(options.body_timeout);
    co_await asio::async_write(stream, bhttp::make_chunk_last(), use_nothrow);
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void Server::Impl::forget(const std::shared_ptr<Session>& session) {
    std::function<void()> done;
    {
        std::lock_guard lock(mutex);
        sessions.erase(session);
        if (stopping && sessions.empty() && on_drained) done = std::exchange(on_drained, nullptr);
    }
    if (done) {
        // the grace timer belongs to the listener's executor; this may run on a session's
        asio::post(executor, [self = shared_from_this(), done = std::move(done)] {
            self->grace_timer.cancel();
            done();
        });
    }
}

void Server::Impl::close_sessions(bool only_idle) {
    std::lock_guard lock(mutex);
    for (const auto& session : sessions) {
        // the session's fields belong to its strand
        asio::post(session->stream.get_executor(), [session, only_idle] {
            if (only_idle && session->busy) return;
            error_code ignored;
            session->stream.socket().cancel(ignored);
            session->stream.socket().close(ignored);
        });
    }
}

Server::Server(asio::any_io_executor executor, ServerOptions options, RequestHandler handler,
               std::vector<asio::any_io_executor> session_executors)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options), std::move(handler),
                                   std::move(session_executors))) {}

Server::~Server() {
    error_code ignored;
    impl_->acceptor.close(ignored);
}

void Server::start() {
    auto& acceptor = impl_->acceptor;
    const auto& opts = impl_->options;
    error_code ec;
    const auto address = asio::ip::make_address(opts.bind, ec);
    if (ec) {
        throw std::system_error(ec, "invalid bind address `" + opts.bind + "`");
    }
    const tcp::endpoint endpoint{address, opts.port};
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint, ec);
    if (ec) {
        throw std::system_error(ec,
                                "cannot listen on " + opts.bind + ":" + std::to_string(opts.port));
    }
    acceptor.listen(asio::socket_base::max_listen_connections);
    asio::co_spawn(acceptor.get_executor(), impl_->accept_loop(),
                   log_exception("accept loop ended by an exception"));
}

std::uint16_t Server::local_port() const {
    error_code ec;
    const auto endpoint = impl_->acceptor.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

void Server::shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
    auto impl = impl_;
    impl->stopping = true;
    // stage one: no new connections, idle ones closed, busy ones finish their request
    asio::post(impl->acceptor.get_executor(), [impl] {
        error_code ignored;
        impl->acceptor.close(ignored);
    });
    {
        std::lock_guard lock(impl->mutex);
        if (impl->sessions.empty()) {
            done();
            return;
        }
        impl->on_drained = std::move(done);
    }
    impl->close_sessions(/*only_idle=*/true);
    // stage two: after the grace period, close whatever is left
    impl->grace_timer.expires_after(grace);
    impl->grace_timer.async_wait([impl](error_code ec) {
        if (ec) return;
        log::warn("grace period over, closing remaining connections",
                  {{"connections", static_cast<std::int64_t>(impl->active_count())}});
        impl->close_sessions(/*only_idle=*/false);
    });
}

std::uint64_t Server::connections_accepted() const { return impl_->accepted.load(); }

std::size_t Server::active_sessions() const { return impl_->active_count(); }

}  // namespace miroir::http
