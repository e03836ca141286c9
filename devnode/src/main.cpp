// miroir-devnode: Meilisearch's command line → an in-memory development node.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/http/api_error.hpp>
#include <miroir/http/server.hpp>

#include "node.hpp"

namespace {

[[noreturn]] void usage(const std::string& message) {
    std::cerr << "miroir-devnode: " << message << "\n"
              << "usage: miroir-devnode [--http-addr HOST:PORT] [--master-key KEY]\n"
              << "       [--dump-dir DIR]  (Meilisearch's default: dumps/)\n"
              << "       (--db-path, --env, --no-analytics and other Meilisearch options are "
                 "accepted and ignored)\n";
    std::exit(2);
}

// One request: injected faults first (delay, hang, error), then the node's handler.
boost::asio::awaitable<miroir::http::Response> serve(devnode::Node& node,
                                                     miroir::http::Request request) {
    const auto plan = node.plan_faults(request);
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    if (plan.hang) {
        while (node.hanging(request)) {
            timer.expires_after(std::chrono::milliseconds(20));
            co_await timer.async_wait(boost::asio::use_awaitable);
        }
    }
    if (plan.delay.count() > 0) {
        timer.expires_after(plan.delay);
        co_await timer.async_wait(boost::asio::use_awaitable);
    }
    if (plan.error) {
        co_return miroir::http::ApiError(plan.error, "internal", miroir::http::ErrorType::internal,
                                         "Fault injected by the development node.")
            .response();
    }
    co_return node.handle(request);
}

}  // namespace

int main(int argc, char** argv) {
    std::string addr =
        std::getenv("MEILI_HTTP_ADDR") ? std::getenv("MEILI_HTTP_ADDR") : "localhost:7700";
    std::string master_key = std::getenv("MEILI_MASTER_KEY") ? std::getenv("MEILI_MASTER_KEY") : "";
    // where POST /dumps writes the dump files, by default where Meilisearch writes them
    std::string dump_dir = std::getenv("MEILI_DUMP_DIR") ? std::getenv("MEILI_DUMP_DIR") : "dumps/";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        std::string value;
        const auto eq = a.find('=');
        const bool inline_value = a.starts_with("--") && eq != std::string::npos;
        if (inline_value) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
        }
        auto take = [&]() -> std::string {
            if (inline_value) return value;
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--http-addr") {
            addr = take();
        } else if (a == "--master-key") {
            master_key = take();
        } else if (a == "--dump-dir") {
            dump_dir = take();
        } else if (a == "--no-analytics" || a == "--experimental-enable-metrics") {
            // flags without a value
        } else if (a == "--help" || a == "-h") {
            usage("a development node reproducing the Meilisearch API, in memory");
        } else if (a.starts_with("--")) {
            take();  // any other Meilisearch option with a value: accepted and ignored
        } else {
            usage("unexpected argument `" + a + "`");
        }
    }
    const auto colon = addr.rfind(':');
    if (colon == std::string::npos) usage("--http-addr must be HOST:PORT");
    miroir::http::ServerOptions options;
    options.bind = addr.substr(0, colon) == "localhost" ? "127.0.0.1" : addr.substr(0, colon);
    options.port = static_cast<std::uint16_t>(std::stoi(addr.substr(colon + 1)));
    options.max_body_bytes = 100'000'000;

    devnode::Node node(master_key, dump_dir);
    node.start_worker();

    boost::asio::io_context io;
    miroir::http::Server server(io.get_executor(), options, [&node](miroir::http::Request r) {
        return serve(node, std::move(r));
    });
    try {
        server.start();
    } catch (const std::exception& e) {
        std::cerr << "miroir-devnode: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "miroir-devnode listening on " << options.bind << ":" << server.local_port()
              << " (a development test double, not a search engine)\n";

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) {
        server.shutdown(std::chrono::seconds(2), [&io] { io.stop(); });
    });
    std::vector<std::thread> threads;
    for (int i = 1; i < 2; ++i) threads.emplace_back([&] { io.run(); });
    io.run();
    for (auto& t : threads) t.join();
    node.stop_worker();
    return 0;
}
