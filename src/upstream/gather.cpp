// gather: a ranged parallel group over node requests; each child's failure is a value.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/upstream/gather.hpp>

namespace miroir::upstream {

namespace asio = boost::asio;

asio::awaitable<std::vector<UpstreamResult>> gather(
    std::vector<asio::awaitable<UpstreamResult>> requests) {
    const auto executor = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(executor, std::move(requests.front()), asio::deferred));
    std::vector<Op> ops;
    ops.reserve(requests.size());
    for (auto& r : requests) ops.push_back(asio::co_spawn(executor, std::move(r), asio::deferred));
    if (ops.empty()) co_return std::vector<UpstreamResult>{};

    // run every request; wait for all of them
    auto [order, exceptions, results] =
        co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (auto& e : exceptions) {
        if (e) std::rethrow_exception(e);
    }
    co_return std::move(results);
}

}  // namespace miroir::upstream
