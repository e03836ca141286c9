// Query coalescing (see coalesce.hpp). The flights of searches in progress, by key; a flight
// keeps its answer for the waiters, each woken on its own thread through its own channel.
#include <optional>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/scatter/coalesce.hpp>

namespace miroir::scatter {

namespace asio = boost::asio;
using Wake = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

struct Coalescer::Flight {
    std::mutex mutex;  // guards the fields below
    std::optional<http::Response> response;
    std::exception_ptr error;
    std::vector<std::shared_ptr<Wake>> waiters;
};

namespace {

bool is_cancellation(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const boost::system::system_error& e) {
        return e.code() == asio::error::operation_aborted;
    } catch (...) {
        return false;
    }
}

}  // namespace

asio::awaitable<http::Response> Coalescer::run(const std::string& key, const Work& work,
                                               metrics::Metrics& metrics) {
    const auto executor = co_await asio::this_coro::executor;
    for (;;) {
        std::shared_ptr<Flight> flight;
        std::shared_ptr<Wake> wake;
        {
            std::lock_guard lock(mutex_);
            auto& slot = flights_[key];
            if (!slot) {
                slot = flight = std::make_shared<Flight>();
            } else {
                flight = slot;
                wake = std::make_shared<Wake>(executor, 1);
                std::lock_guard own(flight->mutex);
                flight->waiters.push_back(wake);
            }
        }
        if (!wake) {  // this caller runs the search
            std::optional<http::Response> response;
            std::exception_ptr error;
            try {
                response = co_await work();
            } catch (...) {
                error = std::current_exception();
            }
            {
                std::lock_guard lock(mutex_);
                flights_.erase(key);
            }
            {
                std::lock_guard lock(flight->mutex);
                flight->response = response;
                flight->error = error;
                for (auto& w : flight->waiters) w->try_send(boost::system::error_code{});
            }
            if (error) std::rethrow_exception(error);
            co_return std::move(*response);
        }
        metrics.search_coalesced();
        auto [ec] = co_await wake->async_receive(asio::as_tuple(asio::use_awaitable));
        if (ec) throw boost::system::system_error(ec);  // this waiter's client left
        std::lock_guard lock(flight->mutex);
        if (!flight->error) co_return *flight->response;
        if (!is_cancellation(flight->error)) std::rethrow_exception(flight->error);
        // the caller running it left: start over
    }
}

std::string search_key(const char* method, const std::string& uid, const std::string& request,
                       const std::vector<std::size_t>& avoid) {
    std::string key = std::string(method) + " " + uid + " " + request;
    for (auto node : avoid) key += " !" + std::to_string(node);
    return key;
}

asio::awaitable<http::Response> coalesced(fleet::Context& ctx, const std::string& key,
                                          const Coalescer::Work& work) {
    static Coalescer flights;
    if (!ctx.config.scatter.search_coalescing) co_return co_await work();
    co_return co_await flights.run(key, work, ctx.metrics);
}

}  // namespace miroir::scatter
