// NodeClient against a real in-process HTTP server (miroir's own http::Server): pooling,
// keep-alive, bounds, timeouts, cancellation, and retry of stale pooled connections.
#include <atomic>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/error.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <miroir/http/server.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::upstream {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

// A node double: echoes what it received; `/sleep/<ms>` waits first; `/close` asks to close.
class UpstreamTest : public ::testing::Test {
  protected:
    void SetUp() override { start_server({}); }

    void start_server(http::ServerOptions options) {
        options.port = 0;
        server_ = std::make_unique<http::Server>(
            io_.get_executor(), options, [this](http::Request r) { return handle(std::move(r)); });
        server_->start();
        thread_ = std::thread([this] { io_.run(); });
    }

    void TearDown() override {
        client_.reset();
        std::promise<void> drained;
        server_->shutdown(100ms, [&] { drained.set_value(); });
        drained.get_future().wait_for(5s);
        io_.stop();
        thread_.join();
    }

    asio::awaitable<http::Response> handle(http::Request r) {
        const int now = ++in_flight_;
        int seen = max_in_flight_.load();
        while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
        }
        if (r.path.starts_with("/sleep/")) {
            asio::steady_timer t(co_await asio::this_coro::executor);
            t.expires_after(std::chrono::milliseconds(std::stoi(r.path.substr(7))));
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        --in_flight_;
        nlohmann::json body{{"method", r.method_text},
                            {"target", r.target},
                            {"authorization", r.headers.get("Authorization").value_or("")},
                            {"content_type", r.headers.get("Content-Type").value_or("")},
                            {"body", r.body}};
        auto response = http::Response::json(200, body.dump());
        response.close_connection = r.path == "/close";
        co_return response;
    }

    NodeClient& client(PoolOptions options = {}) {
        options.api_key = "node-key";
        client_ = std::make_unique<NodeClient>(
            io_.get_executor(), NodeEndpoint{"n0", "127.0.0.1", server_->local_port()}, options);
        return *client_;
    }

    UpstreamResult send(NodeClient& c, http::Method method, std::string target,
                        std::string body = "", std::chrono::milliseconds timeout = 2s) {
        UpstreamRequest req;
        req.method = method;
        req.target = std::move(target);
        req.body = std::move(body);
        return asio::co_spawn(io_, c.send(std::move(req), timeout), asio::use_future).get();
    }

    asio::io_context io_;
    std::unique_ptr<http::Server> server_;
    std::unique_ptr<NodeClient> client_;
    std::thread thread_;
    std::atomic<int> in_flight_{0};
    std::atomic<int> max_in_flight_{0};
};

TEST_F(UpstreamTest, SendsMethodBodyAndNodeKey) {
    auto& c = client();
    const auto result = send(c, http::Method::post, "/indexes?x=1", R"({"uid":"a"})");
    ASSERT_TRUE(result.has_value()) << result.error().message();
    EXPECT_EQ(result->status, 200u);
    const auto echo = nlohmann::json::parse(result->body);
    EXPECT_EQ(echo["method"], "POST");
    EXPECT_EQ(echo["target"], "/indexes?x=1");
    EXPECT_EQ(echo["authorization"], "Bearer node-key");
    EXPECT_EQ(echo["content_type"], "application/json");
    EXPECT_EQ(echo["body"], R"({"uid":"a"})");
}

TEST_F(UpstreamTest, ReusesOneKeepAliveConnection) {
    auto& c = client();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(send(c, http::Method::get, "/x").has_value());
    EXPECT_EQ(c.stats().opened, 1u);
    EXPECT_EQ(c.stats().idle, 1u);
    EXPECT_EQ(server_->connections_accepted(), 1u);
}

TEST_F(UpstreamTest, BoundsConcurrentConnections) {
    PoolOptions options;
    options.max_connections = 2;
    auto& c = client(options);
    std::vector<std::future<UpstreamResult>> futures;
    for (int i = 0; i < 6; ++i) {
        UpstreamRequest req;
        req.target = "/sleep/50";
        futures.push_back(asio::co_spawn(io_, c.send(req, 5s), asio::use_future));
    }
    for (auto& f : futures) EXPECT_TRUE(f.get().has_value());
    EXPECT_LE(max_in_flight_.load(), 2);
    EXPECT_LE(server_->connections_accepted(), 2u);
}

TEST_F(UpstreamTest, TimeoutIsAnErrorValueAndDropsTheConnection) {
    auto& c = client();
    const auto result = send(c, http::Method::get, "/sleep/2000", "", 100ms);
    ASSERT_TRUE(result.has_error());
    EXPECT_EQ(result.error(), boost::beast::error::timeout);
    EXPECT_EQ(c.stats().open, 0u);
}

TEST_F(UpstreamTest, ConnectionRefusedIsAnErrorValue) {
    client_ = std::make_unique<NodeClient>(io_.get_executor(), NodeEndpoint{"n1", "127.0.0.1", 1},
                                           PoolOptions{});
    const auto result = send(*client_, http::Method::get, "/health");
    ASSERT_TRUE(result.has_error());
    EXPECT_EQ(result.error(), asio::error::connection_refused);
}

TEST_F(UpstreamTest, CancellationClosesTheConnection) {
    auto& c = client();
    auto race = [&c]() -> asio::awaitable<bool> {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(50ms);
        UpstreamRequest req;
        req.target = "/sleep/3000";
        auto winner = co_await (c.send(req, 10s) || timer.async_wait(asio::use_awaitable));
        co_return winner.index() == 1;
    };
    const auto started = std::chrono::steady_clock::now();
    EXPECT_TRUE(asio::co_spawn(io_, race(), asio::use_future).get());
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
    EXPECT_EQ(c.stats().open, 0u);
    // the server sees the connection go away once its handler finishes
    for (int i = 0; i < 400 && server_->active_sessions() > 0; ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(server_->active_sessions(), 0u);
}

TEST_F(UpstreamTest, ConnectionCloseFromTheNodeIsNotPooled) {
    auto& c = client();
    const auto result = send(c, http::Method::get, "/close");
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(result->status, 200u);
    EXPECT_EQ(c.stats().open, 0u);
    ASSERT_TRUE(send(c, http::Method::get, "/x").has_value());
    EXPECT_EQ(c.stats().opened, 2u);
}

class StaleUpstreamTest : public UpstreamTest {
  protected:
    void SetUp() override {
        http::ServerOptions options;
        options.idle_timeout = 50ms;  // the node closes idle keep-alive connections quickly
        start_server(options);
    }
};

TEST_F(StaleUpstreamTest, StalePooledConnectionIsRetriedOnANewOne) {
    auto& c = client();
    ASSERT_TRUE(send(c, http::Method::get, "/x").has_value());
    std::this_thread::sleep_for(300ms);  // the node has closed the pooled connection by now
    const auto result = send(c, http::Method::post, "/y", "{}");
    ASSERT_TRUE(result.has_value()) << result.error().message();
    EXPECT_EQ(c.stats().opened, 2u);
}

}  // namespace
}  // namespace miroir::upstream
