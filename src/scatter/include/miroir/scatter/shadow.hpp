// The writes of a resharded index whose old copy is kept: each also reaches that copy (the
// shadow), routed with its shard count (docs/operations.md, "Resharding"). The client's answer
// is judged on the index alone; what the shadow misses, a rollback mends before it switches
// back. Index operations that would leave the two copies apart are refused meanwhile.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <miroir/fleet/fleet.hpp>
#include <miroir/scatter/fanout.hpp>

namespace miroir::scatter {

// Sends a write's calls to the shadow of index `uid`; the nodes that did not take them are
// logged and counted (miroir_reshard_shadow_writes_missed_total).
boost::asio::awaitable<void> write_shadow(Context& ctx, const std::string& uid,
                                          std::vector<NodeCall> calls);

// `request`, a request of index `uid`, as the same request of index `other`.
upstream::UpstreamRequest retarget(upstream::UpstreamRequest request, std::string_view uid,
                                   std::string_view other);

// 409 miroir_reshard_in_progress when index `uid` is being resharded: `what` cannot be done
// to it until the reshard is finished or rolled back; nor to a reshard's shadow, ever.
void refuse_while_resharded(const Fleet& fleet, std::string_view uid, std::string_view what);
// The same, only before the switch (the shadow being filled and compared by places alone).
void refuse_before_switch(const Fleet& fleet, std::string_view uid, std::string_view what);

// The layout of index `uid` forgotten (the index deleted), or the layouts of `a` and `b`
// exchanged (the indexes swapped or renamed), in the topology.
boost::asio::awaitable<void> forget_layout(Context& ctx, const std::string& uid);
boost::asio::awaitable<void> swap_layouts(Context& ctx, const std::string& a, const std::string& b);

}  // namespace miroir::scatter
