// Two-phase settings: a settings change is proposed to every node (settings.cpp), and once
// the nodes' tasks finish it is verified here — every node's settings read back and hashed —
// then committed as the index's next settings version. Nodes that diverge are repaired with
// backoff by the drift checker, which also catches changes made behind Miroir's back; an
// index whose reachable node cannot be repaired has its writes frozen.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <miroir/http/message.hpp>
#include <miroir/tasks/store.hpp>

namespace miroir::fleet {
struct Context;
}  // namespace miroir::fleet

namespace miroir::scatter {

using fleet::Context;

// After a task finished: settings and index creation tasks are verified and committed, an
// index deletion forgets the index's settings state.
boost::asio::awaitable<void> settings_task_finished(Context& ctx, const tasks::Task& task);

// A settings change to `uid` is on its way to the nodes (reads say the settings may differ).
void settings_proposed(Context& ctx, const std::string& uid);

// Throws 503 miroir_settings_frozen when writes to `uid` are frozen.
void check_writable(const Context& ctx, const std::string& uid);

// X-Miroir-Settings-Version, and X-Miroir-Settings-Inconsistent while the nodes may differ.
void add_settings_headers(const Context& ctx, const std::string& uid, http::Response& response);

// The nodes a read of `uid` must not use under the request's X-Miroir-Min-Settings-Version
// (none without the header), and those its session avoids (Request::read_avoid). Throws 400 on a
// malformed header and 503 miroir_settings_version_stale when the floor is above the committed
// version.
std::vector<std::size_t> below_settings_floor(const Context& ctx, const std::string& uid,
                                              const http::Request& request);

// One pass of the drift checker over every index with committed settings: nodes holding them
// are verified, the others repaired with backoff; writes freeze while a reachable node cannot
// be repaired. The first pass (`first`) only publishes what was committed before.
boost::asio::awaitable<void> check_settings(Context& ctx, bool first);

}  // namespace miroir::scatter
