// The pipeline over one RedisConnection. Everything runs on one strand: a command's bytes join
// the outbox and its waiter the queue; one writer sends the outbox, one reader hands each reply
// to the oldest waiter (Redis answers in order). A waiter reaches its coroutine through a
// one-slot concurrent channel. A watchdog drops the connection when the oldest waiter is late,
// failing every waiter: their commands may or may not have run, and the callers say so.
#include "redis_client.hpp"

#include <deque>
#include <stdexcept>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/log/log.hpp>

#include "redis_connection.hpp"

namespace miroir::tasks {

namespace asio = boost::asio;

namespace {

using Channel = asio::experimental::concurrent_channel<void(boost::system::error_code, RedisReply)>;
using Clock = std::chrono::steady_clock;

// How long after a failed connection the next one is tried.
constexpr std::chrono::milliseconds kRetryPause{250};

RedisReply error_reply(std::string what) {
    RedisReply r;
    r.type = RedisReply::Type::error;
    r.text = "redis: " + std::move(what);
    return r;
}

asio::ssl::context tls_context(const RedisOptions& options) {
    asio::ssl::context context(asio::ssl::context::tls_client);
    if (!options.target.tls) return context;
    if (options.tls_ca_file.empty()) {
        context.set_default_verify_paths();
    } else {
        context.load_verify_file(options.tls_ca_file);
    }
    return context;
}

}  // namespace

struct RedisClient::Impl : std::enable_shared_from_this<Impl> {
    struct Waiter {
        std::shared_ptr<Channel> channel;
        Clock::time_point deadline;
    };

    Impl(asio::any_io_executor executor, RedisOptions opts)
        : io(executor),
          strand(asio::make_strand(executor)),
          options(std::move(opts)),
          tls(tls_context(options)),
          watchdog(strand) {}

    asio::any_io_executor io;
    asio::strand<asio::any_io_executor> strand;
    RedisOptions options;
    asio::ssl::context tls;
    std::shared_ptr<RedisConnection> connection;
    bool connecting = false;
    std::string outbox;  // commands not yet written
    bool writing = false;
    std::deque<Waiter> waiters;    // oldest first
    std::uint64_t generation = 0;  // changes with every connection, so stale loops stop
    asio::steady_timer watchdog;
    bool watching = false;
    // after a failed connection, commands fail at once for a moment rather than each trying
    Clock::time_point retry_after;
    std::string last_error;

    void submit(std::vector<std::string> args, std::shared_ptr<Channel> channel) {
        if (!connection && !connecting && Clock::now() < retry_after) {
            // Redis just failed to answer a connection: the command fails at once
            channel->try_send(boost::system::error_code{}, error_reply(last_error));
            return;
        }
        outbox += format_command(args);
        waiters.push_back({std::move(channel), Clock::now() + options.timeout});
        if (connection) {
            flush();
        } else if (!connecting) {
            connecting = true;
            asio::co_spawn(strand, connect(shared_from_this()), asio::detached);
        }
        watch();
    }

    static asio::awaitable<void> connect(std::shared_ptr<Impl> self) {
        std::shared_ptr<RedisConnection> opened;
        std::string error;
        try {
            opened = co_await open_redis_connection(self->strand, self->tls, self->options);
        } catch (const std::exception& e) {
            error = reason(e);
        }
        self->connecting = false;
        if (!opened) {
            log::warn("redis connection failed", {{"error", error}});
            self->last_error = "cannot reach Redis: " + error;
            self->retry_after = Clock::now() + kRetryPause;
            self->drop(self->last_error);
            co_return;
        }
        self->connection = opened;
        const auto gen = ++self->generation;
        // the commands queued meanwhile are sent now: their time starts now
        for (auto& w : self->waiters) w.deadline = Clock::now() + self->options.timeout;
        asio::co_spawn(self->strand, read_replies(self, opened, gen), asio::detached);
        self->flush();
        self->watch();
    }

    void flush() {
        if (writing || outbox.empty() || !connection) return;
        writing = true;
        asio::co_spawn(strand,
                       write_out(shared_from_this(), connection, generation,
                                 std::exchange(outbox, std::string())),
                       asio::detached);
    }

    static asio::awaitable<void> write_out(std::shared_ptr<Impl> self,
                                           std::shared_ptr<RedisConnection> c, std::uint64_t gen,
                                           std::string bytes) {
        std::string error;
        try {
            co_await c->write(std::move(bytes));
        } catch (const std::exception& e) {
            error = reason(e);
        }
        if (gen != self->generation) co_return;
        self->writing = false;
        if (!error.empty()) {
            self->drop("connection lost: " + error);
        } else {
            self->flush();
        }
    }

    static asio::awaitable<void> read_replies(std::shared_ptr<Impl> self,
                                              std::shared_ptr<RedisConnection> c,
                                              std::uint64_t gen) {
        std::string error;
        try {
            for (;;) {
                co_await c->read_some();
                if (gen != self->generation) co_return;
                while (auto reply = c->next_reply()) {
                    if (self->waiters.empty()) throw std::runtime_error("an answer to nothing");
                    auto waiter = std::move(self->waiters.front());
                    self->waiters.pop_front();
                    // after a failover the old master is a replica: find the new one
                    const bool replica = reply->type == RedisReply::Type::error &&
                                         reply->text.starts_with("READONLY");
                    waiter.channel->try_send(boost::system::error_code{}, std::move(*reply));
                    if (replica) throw std::runtime_error("the server is a replica now");
                }
            }
        } catch (const std::exception& e) {
            error = reason(e);
        }
        if (gen != self->generation) co_return;
        log::warn("redis connection lost", {{"error", error}});
        self->drop("connection lost: " + error);
    }

    // Fails the oldest command when it is late, with every other on its connection.
    void watch() {
        if (watching || waiters.empty()) return;
        watching = true;
        watchdog.expires_at(waiters.front().deadline);
        watchdog.async_wait(
            asio::bind_executor(strand, [self = shared_from_this()](boost::system::error_code) {
                self->watching = false;
                if (self->waiters.empty()) return;
                if (!self->connecting && Clock::now() >= self->waiters.front().deadline) {
                    log::warn("redis did not answer in time",
                              {{"timeout_ms", self->options.timeout.count()}});
                    self->drop("no answer within " + std::to_string(self->options.timeout.count()) +
                               " ms");
                }
                if (!self->connecting) self->watch();
            }));
    }

    // Closes the connection and fails every waiter; the next command connects again.
    void drop(const std::string& why) {
        ++generation;
        if (connection) connection->close();
        connection.reset();
        writing = false;
        outbox.clear();
        auto failed = std::exchange(waiters, {});
        for (auto& w : failed) w.channel->try_send(boost::system::error_code{}, error_reply(why));
    }
};

RedisClient::RedisClient(asio::any_io_executor executor, RedisOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

RedisClient::~RedisClient() {
    asio::post(impl_->strand, [impl = impl_] { impl->drop("closed"); });
}

asio::awaitable<RedisReply> RedisClient::command(std::vector<std::string> args) {
    auto impl = impl_;
    auto channel = std::make_shared<Channel>(impl->io, 1);
    asio::post(impl->strand, [impl, channel, a = std::move(args)]() mutable {
        impl->submit(std::move(a), channel);
    });
    auto reply = co_await channel->async_receive(asio::use_awaitable);
    if (reply.type == RedisReply::Type::error) throw std::runtime_error(reply.text);
    co_return reply;
}

}  // namespace miroir::tasks
