// The task store's compare-and-set of an index's settings state (and of a record), in SQLite
// and in a real redis-server (started on a free port; skipped where there is none): a value is
// stored only over the one it was computed from, and of two pods storing over the same state at
// once, exactly one does.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <future>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <miroir/config/config.hpp>
#include <miroir/tasks/store.hpp>

namespace asio = boost::asio;
using miroir::tasks::Store;
using namespace std::chrono_literals;

namespace {

// An io_context run on its own thread: the stores' coroutines are awaited from the test.
class Loop {
  public:
    Loop() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
    ~Loop() {
        work_.reset();
        io_.stop();
        thread_.join();
    }
    template <typename T>
    T run(asio::awaitable<T> a) {
        return asio::co_spawn(io_, std::move(a), asio::use_future).get();
    }
    asio::io_context& io() { return io_; }

  private:
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::thread thread_;
};

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// A redis-server of its own, without persistence; stopped with the test (or with this
// process). `running()` once it answers on its port.
class RedisServer {
  public:
    RedisServer() {
        if (std::system("command -v redis-server > /dev/null") != 0) return;
        for (int tries = 0; tries < 3 && !ready_; ++tries) start();
    }
    ~RedisServer() { stop(); }
    bool running() const { return ready_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  private:
    void start() {
        port_ = free_port();
        const auto port = std::to_string(port_);  // made before the fork: the child only execs
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            const int quiet = ::open("/dev/null", O_WRONLY);
            ::dup2(quiet, STDOUT_FILENO);
            ::dup2(quiet, STDERR_FILENO);
            ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--save", "",
                     "--appendonly", "no", "--bind", "127.0.0.1", "--loglevel", "warning",
                     static_cast<char*>(nullptr));
            std::_Exit(127);
        }
        for (int i = 0; i < 200; ++i) {  // until it listens, unless it exited (port taken)
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(port_);
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
            ::close(fd);
            if (up) {
                ready_ = true;
                return;
            }
            std::this_thread::sleep_for(20ms);
        }
        stop();
    }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
    bool ready_ = false;
};

// Each put only over the state it read; the stored state is the last put that succeeded.
void expect_compare_and_set(Loop& loop, Store& store) {
    const std::string uid = "movies";
    EXPECT_EQ(loop.run(store.settings_state(uid)), std::nullopt);
    EXPECT_TRUE(loop.run(store.put_settings_state(uid, std::nullopt, "v1")));
    EXPECT_FALSE(loop.run(store.put_settings_state(uid, std::nullopt, "v1 again")));
    EXPECT_TRUE(loop.run(store.put_settings_state(uid, std::string("v1"), "v2")));
    EXPECT_FALSE(loop.run(store.put_settings_state(uid, std::string("v1"), "v2 from v1")));
    EXPECT_FALSE(loop.run(store.put_settings_state(uid, std::string(), "v3")));
    EXPECT_EQ(loop.run(store.settings_state(uid)), std::optional<std::string>("v2"));
    EXPECT_TRUE(loop.run(store.put_settings_state(uid, std::string("v2"), "")));
    EXPECT_TRUE(loop.run(store.put_settings_state(uid, std::string(), "v4")));  // "" is a state
    loop.run(store.erase_settings_state(uid));
    EXPECT_TRUE(loop.run(store.put_settings_state(uid, std::nullopt, "v5")));
    // a record of a table the same way
    const std::string table = "reshards";
    EXPECT_TRUE(loop.run(store.put_record_if(table, uid, std::nullopt, "r1")));
    EXPECT_FALSE(loop.run(store.put_record_if(table, uid, std::nullopt, "r1 again")));
    EXPECT_FALSE(loop.run(store.put_record_if(table, uid, std::string("r0"), "r2")));
    EXPECT_TRUE(loop.run(store.put_record_if(table, uid, std::string("r1"), "r2")));
    const auto records = loop.run(store.records(table));
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].second, "r2");
}

std::unique_ptr<Store> open_redis(const std::string& url, boost::asio::any_io_executor executor) {
    miroir::config::TaskStore config;
    config.backend = "redis";
    config.url = url;
    return miroir::tasks::open_redis(config, std::move(executor));
}

}  // namespace

TEST(SettingsStateStore, SqliteStoresOnlyOverTheStateItRead) {
    Loop loop;
    auto store = miroir::tasks::open_sqlite(":memory:");
    expect_compare_and_set(loop, *store);
}

TEST(SettingsStateStore, RedisStoresOnlyOverTheStateItRead) {
    RedisServer redis;
    if (!redis.running()) GTEST_SKIP() << "needs redis-server (scripts/bootstrap)";
    Loop loop;
    auto store = open_redis(redis.url(), loop.io().get_executor());
    expect_compare_and_set(loop, *store);
}

TEST(SettingsStateStore, OfTwoPodsStoringOverOneStateOneDoes) {
    RedisServer redis;
    if (!redis.running()) GTEST_SKIP() << "needs redis-server (scripts/bootstrap)";
    Loop loop;
    // two pods: two stores, two connections
    auto first = open_redis(redis.url(), loop.io().get_executor());
    auto second = open_redis(redis.url(), loop.io().get_executor());
    // named: the coroutines below hold references to their arguments until they end
    const std::string uid = "movies";
    ASSERT_TRUE(loop.run(first->put_settings_state(uid, std::nullopt, "v0")));
    for (int round = 0; round < 50; ++round) {
        const auto read = loop.run(first->settings_state(uid));
        ASSERT_TRUE(read.has_value());
        const auto mine = "first " + std::to_string(round);
        const auto theirs = "second " + std::to_string(round);
        auto a =
            asio::co_spawn(loop.io(), first->put_settings_state(uid, read, mine), asio::use_future);
        auto b = asio::co_spawn(loop.io(), second->put_settings_state(uid, read, theirs),
                                asio::use_future);
        const bool stored_a = a.get(), stored_b = b.get();
        EXPECT_NE(stored_a, stored_b) << "round " << round;
        EXPECT_EQ(loop.run(first->settings_state(uid)),
                  std::optional<std::string>(stored_a ? mine : theirs));
    }
}
