// Server: an HTTP/1.1 listener whose sessions read requests, hand them to one handler
// coroutine, and write the responses back (keep-alive, body limit, read timeouts, two-stage
// graceful shutdown). It knows nothing about routes or Meilisearch.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <miroir/http/message.hpp>

namespace miroir::http {

// A request body written to a file as it arrives instead of held in memory (an upload): the
// file, and the largest body taken (0: no limit).
struct Spool {
    std::string path;
    std::uint64_t max_bytes = 0;
};

struct ServerOptions {
    std::string bind = "127.0.0.1";
    std::uint16_t port = 7700;  // 0 picks a free port
    std::uint64_t max_body_bytes = 100 * 1024 * 1024;
    std::chrono::milliseconds header_timeout{30'000};  // whole header, from its first byte
    std::chrono::milliseconds body_timeout{60'000};    // whole body
    std::chrono::milliseconds idle_timeout{75'000};    // keep-alive wait for the next request
    // Asked with each request's header (no body yet): where its body is kept on disk, or
    // nullopt to read it into memory within max_body_bytes. A spooled body's reads each get
    // body_timeout; the file is removed after the answer unless the handler moved it.
    std::function<std::optional<Spool>(const Request&)> spool = nullptr;
};

using RequestHandler = std::function<boost::asio::awaitable<Response>(Request)>;

class Server {
  public:
    // Accepts on `executor`; each connection is served on the next of `session_executors` in
    // turn (on `executor` when there are none), so that a connection and the node requests of
    // its handler stay on one thread.
    Server(boost::asio::any_io_executor executor, ServerOptions options, RequestHandler handler,
           std::vector<boost::asio::any_io_executor> session_executors = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and starts accepting. Throws std::system_error naming the address on failure.
    void start();
    std::uint16_t local_port() const;

    // Stage one: stop accepting, close idle connections, let in-flight requests finish.
    // Stage two, after `grace`: close every connection. `done` runs once no session is left.
    void shutdown(std::chrono::milliseconds grace, std::function<void()> done);

    std::uint64_t connections_accepted() const;
    std::size_t active_sessions() const;

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace miroir::http
