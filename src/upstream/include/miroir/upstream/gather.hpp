// gather: runs several node requests at once, on the caller's executor, and returns their
// results in input order.
#pragma once

#include <vector>

#include <boost/asio/awaitable.hpp>

#include <miroir/upstream/node_client.hpp>

namespace miroir::upstream {

boost::asio::awaitable<std::vector<UpstreamResult>> gather(
    std::vector<boost::asio::awaitable<UpstreamResult>> requests);

}  // namespace miroir::upstream
