#include "redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace miroir::tasks {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

RedisReply convert(const redisReply* r) {
    RedisReply out;
    switch (r->type) {
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::integer;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            out.type = r->type == REDIS_REPLY_STRING   ? RedisReply::Type::string
                       : r->type == REDIS_REPLY_STATUS ? RedisReply::Type::status
                                                       : RedisReply::Type::error;
            out.text.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::array;
            for (std::size_t i = 0; i < r->elements; ++i) {
                out.elements.push_back(convert(r->element[i]));
            }
            break;
        default:
            break;
    }
    return out;
}

std::string where(const std::string& host, std::uint16_t port) {
    return host + ":" + std::to_string(port);
}

// Closes the connection when the opening step it guards takes longer than `timeout`; `fired`
// says so afterwards. The timer's handler may run after the guard is gone (it had fired as the
// step ended): it then finds no connection to close.
class Deadline {
  public:
    Deadline(asio::any_io_executor executor, RedisConnection& connection,
             std::chrono::milliseconds timeout)
        : timer_(std::move(executor)), state_(std::make_shared<State>(State{&connection})) {
        timer_.expires_after(timeout);
        timer_.async_wait([state = state_](boost::system::error_code ec) {
            if (ec || !state->connection) return;
            state->fired = true;
            state->connection->close();
        });
    }
    ~Deadline() {
        state_->connection = nullptr;
        timer_.cancel();
    }
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;
    bool fired() const { return state_->fired; }

  private:
    struct State {
        RedisConnection* connection;
        bool fired = false;
    };
    asio::steady_timer timer_;
    std::shared_ptr<State> state_;
};

// AUTH and SELECT on a fresh connection to the master, and, when Sentinels named it, ROLE: a
// server that is no longer the master is refused.
asio::awaitable<void> prepare(RedisConnection& c, const RedisOptions& options) {
    const auto& t = options.target;
    if (!t.password.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!t.username.empty()) auth.push_back(t.username);
        auth.push_back(t.password);
        const auto r = co_await c.ask(std::move(auth));
        if (r.type == RedisReply::Type::error) {
            throw std::runtime_error("refused the credentials: " + r.text);
        }
    }
    if (t.db != 0) {
        std::vector<std::string> select{"SELECT", std::to_string(t.db)};
        const auto r = co_await c.ask(std::move(select));
        if (r.type == RedisReply::Type::error) {
            throw std::runtime_error("refused database " + std::to_string(t.db) + ": " + r.text);
        }
    }
    if (t.sentinel) {
        std::vector<std::string> role{"ROLE"};
        const auto r = co_await c.ask(std::move(role));
        if (r.type != RedisReply::Type::array || r.elements.empty() ||
            r.elements[0].text != "master") {
            throw std::runtime_error("is not the master (yet)");
        }
    }
}

// The master's address as a Sentinel gives it.
asio::awaitable<std::pair<std::string, std::uint16_t>> ask_sentinel(asio::any_io_executor executor,
                                                                    asio::ssl::context& tls_context,
                                                                    const RedisOptions& options,
                                                                    const std::string& host,
                                                                    std::uint16_t port) {
    RedisConnection sentinel(executor, tls_context, options.target.tls);
    const Deadline deadline(executor, sentinel, options.timeout);
    RedisReply r;
    std::vector<std::string> question{"SENTINEL", "get-master-addr-by-name", options.target.master};
    try {
        co_await sentinel.connect(host, port);
        r = co_await sentinel.ask(std::move(question));
    } catch (const std::exception&) {
        if (!deadline.fired()) throw;
    }
    if (deadline.fired()) throw std::runtime_error("no answer");
    sentinel.close();
    if (r.type != RedisReply::Type::array || r.elements.size() != 2) {
        throw std::runtime_error("knows no master `" + options.target.master + "`");
    }
    co_return std::make_pair(r.elements[0].text,
                             static_cast<std::uint16_t>(std::stoul(r.elements[1].text)));
}

}  // namespace

std::string reason(const std::exception& e) {
    if (const auto* system = dynamic_cast<const boost::system::system_error*>(&e)) {
        return system->code().message();
    }
    return e.what();
}

std::string format_command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
    }
    char* bytes = nullptr;
    const int n =
        redisFormatCommandArgv(&bytes, static_cast<int>(argv.size()), argv.data(), lengths.data());
    if (n < 0) throw std::runtime_error("cannot format a command");
    std::string out(bytes, static_cast<std::size_t>(n));
    redisFreeCommand(bytes);
    return out;
}

RedisConnection::RedisConnection(asio::any_io_executor executor, asio::ssl::context& tls_context,
                                 bool tls)
    : tls_(tls), stream_(std::move(executor), tls_context), reader_(redisReaderCreate()) {}

RedisConnection::~RedisConnection() { redisReaderFree(reader_); }

asio::awaitable<void> RedisConnection::connect(const std::string& host, std::uint16_t port) {
    tcp::resolver resolver(stream_.get_executor());
    const auto endpoints =
        co_await resolver.async_resolve(host, std::to_string(port), asio::use_awaitable);
    co_await asio::async_connect(stream_.next_layer(), endpoints, asio::use_awaitable);
    stream_.next_layer().set_option(tcp::no_delay(true));
    if (!tls_) co_return;
    boost::system::error_code not_ip;
    asio::ip::make_address(host, not_ip);
    if (not_ip) {  // SNI (SSL_set_tlsext_host_name, a macro with a C cast)
        SSL_ctrl(stream_.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(host.c_str()));
    }
    stream_.set_verify_mode(asio::ssl::verify_peer);
    stream_.set_verify_callback(asio::ssl::host_name_verification(host));
    co_await stream_.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
}

asio::awaitable<void> RedisConnection::write(std::string bytes) {
    if (tls_) {
        co_await asio::async_write(stream_, asio::buffer(bytes), asio::use_awaitable);
    } else {
        co_await asio::async_write(stream_.next_layer(), asio::buffer(bytes), asio::use_awaitable);
    }
}

asio::awaitable<void> RedisConnection::read_some() {
    std::size_t n = 0;
    if (tls_) {
        n = co_await stream_.async_read_some(asio::buffer(buffer_), asio::use_awaitable);
    } else {
        n = co_await stream_.next_layer().async_read_some(asio::buffer(buffer_),
                                                          asio::use_awaitable);
    }
    if (redisReaderFeed(reader_, buffer_.data(), n) != REDIS_OK) {
        throw std::runtime_error("cannot read an answer");
    }
}

std::optional<RedisReply> RedisConnection::next_reply() {
    void* reply = nullptr;
    if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
        throw std::runtime_error(std::string("malformed answer: ") + reader_->errstr);
    }
    if (!reply) return std::nullopt;
    auto out = convert(static_cast<redisReply*>(reply));
    freeReplyObject(reply);
    return out;
}

asio::awaitable<RedisReply> RedisConnection::ask(std::vector<std::string> args) {
    co_await write(format_command(args));
    for (;;) {
        if (auto reply = next_reply()) co_return std::move(*reply);
        co_await read_some();
    }
}

void RedisConnection::close() {
    boost::system::error_code ignored;
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.next_layer().close(ignored);
}

asio::awaitable<std::shared_ptr<RedisConnection>> open_redis_connection(
    asio::any_io_executor executor, asio::ssl::context& tls_context, const RedisOptions& options) {
    const auto& t = options.target;
    std::pair<std::string, std::uint16_t> server = t.hosts.front();
    if (t.sentinel) {
        std::string failures;
        bool found = false;
        for (const auto& [host, port] : t.hosts) {
            try {
                server = co_await ask_sentinel(executor, tls_context, options, host, port);
                found = true;
            } catch (const std::exception& e) {
                failures += "; Sentinel " + where(host, port) + ": " + reason(e);
            }
            if (found) break;
        }
        if (!found) {
            throw std::runtime_error("no Sentinel named the master `" + t.master + "`" + failures);
        }
    }
    const auto name = where(server.first, server.second);
    auto c = std::make_shared<RedisConnection>(executor, tls_context, t.tls);
    const Deadline deadline(executor, *c, options.timeout);
    std::string error;
    try {
        co_await c->connect(server.first, server.second);
        co_await prepare(*c, options);
    } catch (const std::exception& e) {
        error = reason(e);
    }
    if (deadline.fired()) {
        throw std::runtime_error(name + " did not answer within " +
                                 std::to_string(options.timeout.count()) + " ms");
    }
    if (!error.empty()) throw std::runtime_error(name + ": " + error);
    co_return c;
}

}  // namespace miroir::tasks
