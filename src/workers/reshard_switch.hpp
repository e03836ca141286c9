// The switch of a reshard's copies (reshard_switch.cpp), and what it shares with the job.
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/fleet.hpp>

namespace miroir::fleet {
struct Context;
}

namespace miroir::workers::resharding {

// Index `uid`'s settings, from a usable node.
boost::asio::awaitable<nlohmann::ordered_json> index_settings(fleet::Context& ctx,
                                                              const std::string& uid);

// Waits until every node has applied the tasks of index `uid` it was given.
boost::asio::awaitable<void> wait_idle(fleet::Context& ctx, const std::string& uid);

// Closes the write gate of every pod and opens it again: the writes every pod began before
// then have ended. False when the gate cannot be taken now (a rebalance, or anti-entropy, holds
// it).
boost::asio::awaitable<bool> settle_writes(fleet::Context& ctx);

// Under the closed gates (writes everywhere, reads of indexes being resharded): the settings and
// documents of the index copied once more to the shadow (`forward`), or of the shadow to the
// index (back), the two swapped on every node, the index routed with the count it now holds.
// `state` is the reshard's record (it gets `switchedAt` and `retainUntilMs`). False when the gate
// cannot be taken now (a rebalance, or anti-entropy, holds it).
boost::asio::awaitable<bool> switch_copies(fleet::Context& ctx, nlohmann::ordered_json& state,
                                           bool forward);

}  // namespace miroir::workers::resharding
