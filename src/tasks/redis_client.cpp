// hiredis on Asio. hiredis asks for read and write readiness through the ev hooks; each hook
// arms an async_wait on the connection's descriptor, and the wait's handler lets hiredis read
// or write. Everything touching the hiredis context runs on one strand. A reply reaches its
// waiting coroutine through a one-slot concurrent channel, never by resuming it inside hiredis.
#include "redis_client.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdexcept>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/log/log.hpp>

namespace miroir::tasks {

namespace asio = boost::asio;

namespace {

using Channel = asio::experimental::concurrent_channel<void(boost::system::error_code, RedisReply)>;
using Handler = std::shared_ptr<Channel>;

RedisReply error_reply(std::string what) {
    RedisReply r;
    r.type = RedisReply::Type::error;
    r.text = "redis: " + std::move(what);
    return r;
}

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

}  // namespace

struct RedisClient::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::any_io_executor executor, std::string h, std::uint16_t p)
        : io(executor), strand(asio::make_strand(executor)), host(std::move(h)), port(p) {}

    ~Impl() {
        if (ac) redisAsyncFree(ac);
    }

    asio::any_io_executor io;
    asio::strand<asio::any_io_executor> strand;
    std::string host;
    std::uint16_t port;
    redisAsyncContext* ac = nullptr;
    std::unique_ptr<asio::posix::stream_descriptor> fd;
    bool reading = false;
    bool writing = false;
    std::uint64_t generation = 0;  // changes with every connection, so stale waits stop

    static void complete(const Handler& handler, RedisReply reply) {
        handler->try_send(boost::system::error_code{}, std::move(reply));
    }

    bool connect() {
        ac = redisAsyncConnect(host.c_str(), port);
        if (!ac) return false;
        if (ac->err) {
            log::warn("redis connection failed", {{"error", std::string(ac->errstr)}});
            redisAsyncFree(ac);
            ac = nullptr;
            return false;
        }
        ++generation;
        ac->data = this;
        fd = std::make_unique<asio::posix::stream_descriptor>(strand, ac->c.fd);
        ac->ev.data = this;
        ac->ev.addRead = [](void* p) { static_cast<Impl*>(p)->want(true, true); };
        ac->ev.delRead = [](void* p) { static_cast<Impl*>(p)->reading = false; };
        ac->ev.addWrite = [](void* p) { static_cast<Impl*>(p)->want(false, true); };
        ac->ev.delWrite = [](void* p) { static_cast<Impl*>(p)->writing = false; };
        ac->ev.cleanup = [](void* p) { static_cast<Impl*>(p)->detach(); };
        redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
            if (status != REDIS_OK) {
                log::warn("redis connection failed", {{"error", std::string(c->errstr)}});
            }
        });
        redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int status) {
            if (status != REDIS_OK) {
                log::warn("redis connection lost", {{"error", std::string(c->errstr)}});
            }
        });
        return true;
    }

    // hiredis is done with the connection (it frees the context itself).
    void detach() {
        reading = writing = false;
        ++generation;
        if (fd) {
            fd->release();  // hiredis closes the descriptor
            fd.reset();
        }
        ac = nullptr;
    }

    void want(bool read, bool on) {
        bool& flag = read ? reading : writing;
        if (flag == on) return;
        flag = on;
        if (on) arm(read);
    }

    void arm(bool read) {
        const auto gen = generation;
        fd->async_wait(
            read ? asio::posix::descriptor_base::wait_read
                 : asio::posix::descriptor_base::wait_write,
            asio::bind_executor(strand, [self = shared_from_this(), gen,
                                         read](boost::system::error_code ec) {
                if (ec || gen != self->generation || !self->ac) return;
                if (read ? !self->reading : !self->writing) return;
                if (read) {
                    redisAsyncHandleRead(self->ac);
                } else {
                    redisAsyncHandleWrite(self->ac);
                }
                // still wanted on the same connection: wait again
                if (gen == self->generation && self->ac && (read ? self->reading : self->writing)) {
                    self->arm(read);
                }
            }));
    }

    void submit(std::vector<std::string> args, Handler handler) {
        if (!ac && !connect()) {
            complete(handler,
                     error_reply("cannot connect to " + host + ":" + std::to_string(port)));
            return;
        }
        std::vector<const char*> argv;
        std::vector<std::size_t> lengths;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lengths.push_back(a.size());
        }
        auto* pending = new Handler(std::move(handler));
        const int rc = redisAsyncCommandArgv(
            ac,
            [](redisAsyncContext* c, void* reply, void* privdata) {
                (void)c;
                std::unique_ptr<Handler> h(static_cast<Handler*>(privdata));
                complete(*h, reply ? convert(static_cast<redisReply*>(reply))
                                   : error_reply("connection lost"));
            },
            pending, static_cast<int>(argv.size()), argv.data(), lengths.data());
        if (rc != REDIS_OK) {
            complete(*pending, error_reply("cannot send a command"));
            delete pending;
        }
    }
};

RedisClient::RedisClient(asio::any_io_executor executor, std::string host, std::uint16_t port)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(host), port)) {}

RedisClient::~RedisClient() = default;

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
