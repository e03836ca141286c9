// Online resharding: an index given a new shard count while it is searched and written
// (docs/operations.md, "Resharding"). A shadow index routed with the new count is made on every
// node and written with every write of the index; the `reshard` job fills it from the index,
// verifies it, then, under the closed gates, makes it equal, swaps the two on every node and
// routes the index with the new count. The old copy is kept, still written, for a rollback until
// its retention ends. Progress is kept in the task store (table `reshards`); one pod drives a
// reshard under its lease and another goes on after a restart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace miroir::fleet {
struct Context;
}

namespace miroir::workers {

struct ReshardRequest {
    std::uint32_t new_shards = 0;
    std::uint32_t throttle_docs_per_sec = 0;  // 0: as fast as the nodes go
    double retain_old_index_hours = 24;       // 0: the old copy is deleted at the switch
};

// POST /_miroir/indexes/{uid}/reshard: registers a reshard of index `uid`; its status (JSON).
// Throws http::ApiError for an unknown index, the count it has, a reshard or rebalance running.
boost::asio::awaitable<std::string> start_reshard(fleet::Context& ctx, const std::string& uid,
                                                  const ReshardRequest& request);

// GET /_miroir/indexes/{uid}/reshard/status: the last reshard of `uid` (JSON), if any.
boost::asio::awaitable<std::optional<std::string>> reshard_status(fleet::Context& ctx,
                                                                  const std::string& uid);

// POST /_miroir/indexes/{uid}/reshard/rollback: asks for the running reshard to be undone (its
// shadow deleted), or for a switched one to be switched back; its status (JSON). Throws
// http::ApiError when there is nothing to roll back.
boost::asio::awaitable<std::string> rollback_reshard(fleet::Context& ctx, const std::string& uid);

// reshard: drives every unfinished reshard, each under its own lease.
boost::asio::awaitable<void> run_reshards(fleet::Context& ctx);

}  // namespace miroir::workers
