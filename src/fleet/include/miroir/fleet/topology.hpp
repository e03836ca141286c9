// The topology's store: loaded from the task store (seeded from the configuration on the first
// start), changed through the admin API as compare-and-set versions, installed as the current
// snapshot.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <miroir/fleet/fleet.hpp>

namespace miroir::fleet {

struct Context;

// Loads the stored topology, or stores the configuration's as the first one; installs it.
boost::asio::awaitable<void> load_topology(Context& ctx);

// Installs `topology` as the current snapshot when it is newer than the current one (node
// clients are made for new slots first).
void install_topology(Context& ctx, Topology topology);

// Reads the stored topology and installs it when it is newer; true when it was.
boost::asio::awaitable<bool> reload_topology(Context& ctx);

// Applies `change` to the current topology and stores the result as the next version,
// retrying on a concurrent change from another pod; installs it and returns it. `change` may
// throw (an http::ApiError is the client's answer); nothing is stored then.
boost::asio::awaitable<std::shared_ptr<const Fleet>> change_topology(
    Context& ctx, std::function<void(Topology&)> change);

}  // namespace miroir::fleet
