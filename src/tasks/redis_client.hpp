// RedisClient: one hiredis asynchronous connection driven by an Asio io_context (hiredis has no
// Asio adapter; this is one), reconnected on the next command after a failure.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace miroir::tasks {

// A reply copied out of hiredis: status and error replies are `text` with their type.
struct RedisReply {
    enum class Type { nil, integer, string, status, error, array };
    Type type = Type::nil;
    long long integer = 0;
    std::string text;
    std::vector<RedisReply> elements;
};

class RedisClient {
  public:
    RedisClient(boost::asio::any_io_executor executor, std::string host, std::uint16_t port);
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    // Sends one command; throws std::runtime_error when the connection fails or Redis
    // answers an error.
    boost::asio::awaitable<RedisReply> command(std::vector<std::string> args);

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace miroir::tasks
