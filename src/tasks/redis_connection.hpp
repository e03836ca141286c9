// One connection to a Redis server (or a Sentinel): TCP, TLS when asked, the commands' bytes
// written as hiredis formats them and their replies read by hiredis's reader; and the steps that
// open it: resolve, connect, handshake, AUTH, SELECT, and for a Sentinel's master the check that
// it is still the master. Every step of an opening is bounded by the client's timeout.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "redis_client.hpp"

struct redisReader;

namespace miroir::tasks {

// What went wrong, in words: a system error's message without its source location.
std::string reason(const std::exception& e);

// The bytes of one command in Redis's protocol.
std::string format_command(const std::vector<std::string>& args);

class RedisConnection {
  public:
    RedisConnection(boost::asio::any_io_executor executor, boost::asio::ssl::context& tls_context,
                    bool tls);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Connects to host:port (and does the TLS handshake, the server's name checked against
    // its certificate).
    boost::asio::awaitable<void> connect(const std::string& host, std::uint16_t port);
    boost::asio::awaitable<void> write(std::string bytes);
    // Reads what the server sent next (at least one byte) into the reader.
    boost::asio::awaitable<void> read_some();
    // The next whole reply read, if any; throws on a protocol error.
    std::optional<RedisReply> next_reply();
    // One command and its reply, before any other is in flight (the opening's steps).
    boost::asio::awaitable<RedisReply> ask(std::vector<std::string> args);
    void close();

  private:
    bool tls_;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
    redisReader* reader_;
    std::array<char, 16 * 1024> buffer_;
};

// Opens a connection ready for commands: to the server of `options.target`, or to the master
// its Sentinels name. Throws std::runtime_error saying what failed.
boost::asio::awaitable<std::shared_ptr<RedisConnection>> open_redis_connection(
    boost::asio::any_io_executor executor, boost::asio::ssl::context& tls_context,
    const RedisOptions& options);

}  // namespace miroir::tasks
