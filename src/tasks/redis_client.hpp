// RedisClient: one connection to Redis on Asio (plain TCP or TLS), its replies read by hiredis's
// reader. Commands are pipelined in order; a command unanswered within the timeout fails with
// every other command on the connection, which is dropped, and the next command connects again:
// to the server of the URL, or to the master the Sentinels name (a replica's READONLY answer
// after a failover drops the connection the same way).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <miroir/config/config.hpp>

namespace miroir::tasks {

// A reply copied out of hiredis: status and error replies are `text` with their type.
struct RedisReply {
    enum class Type { nil, integer, string, status, error, array };
    Type type = Type::nil;
    long long integer = 0;
    std::string text;
    std::vector<RedisReply> elements;
};

struct RedisOptions {
    config::RedisTarget target;
    std::string tls_ca_file;  // empty: the system's CAs
    std::chrono::milliseconds timeout{2000};
};

class RedisClient {
  public:
    RedisClient(boost::asio::any_io_executor executor, RedisOptions options);
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    // Sends one command; throws std::runtime_error when Redis cannot be reached or answered
    // an error.
    boost::asio::awaitable<RedisReply> command(std::vector<std::string> args);

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace miroir::tasks
