// gather: runs several node requests at once and returns their results in input order.
#pragma once

#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <miroir/upstream/node_client.hpp>

namespace miroir::upstream {

boost::asio::awaitable<std::vector<UpstreamResult>> gather(
    boost::asio::any_io_executor executor,
    std::vector<boost::asio::awaitable<UpstreamResult>> requests);

}  // namespace miroir::upstream
