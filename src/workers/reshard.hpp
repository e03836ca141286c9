// Resharding's parts, shared by its files: one copy of an index filled from the other, and
// compared to it a class of shards at a time (reshard_sync.cpp); the switch (reshard_switch.cpp)
// and the job that takes a reshard through its phases (reshard.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/fleet.hpp>

#include "anti_entropy.hpp"

namespace miroir::workers::resharding {

using fleet::Context;
using fleet::Fleet;

// One copy of an index on the nodes: its uid there and the fleet it is routed with.
struct Copy {
    std::string uid;
    const Fleet* fleet = nullptr;
};

// What a sync read and wrote.
struct SyncCounts {
    std::uint64_t read = 0;
    std::uint64_t written = 0;  // documents written to, or deleted from, `to`'s owners
};

// The number of shard classes of two shard counts: their greatest common divisor. The
// documents of the shards of class c (shard ≡ c modulo it) are the same under both counts.
std::uint32_t classes(std::uint32_t a, std::uint32_t b);

// The state node task `uid` of `node` ended in (succeeded, failed, canceled); empty when it did
// not end within rebalance.task_timeout_ms.
boost::asio::awaitable<std::string> finished_state(Context& ctx, std::size_t node,
                                                   std::uint64_t uid);

// What each owner of `to` must be sent: documents to write, ids to delete.
struct Mend {
    nlohmann::ordered_json write = nlohmann::ordered_json::array();
    nlohmann::ordered_json remove = nlohmann::ordered_json::array();
};
using Mends = std::map<std::size_t, Mend>;

// Finds what every owner of `to`'s shards of class `c` lacks, or holds otherwise, of what
// `from` holds of them: `from` read from one owner of each of its shards, each of `to`'s owners
// compared to it by bucket digests; the differences go to `mends`.
boost::asio::awaitable<void> compare_class(Context& ctx, const Copy& from, const Copy& to,
                                           const std::string& pk, std::uint32_t c,
                                           anti_entropy::Throttle& throttle, SyncCounts& counts,
                                           Mends& mends);

// Sends `mends` to `to`'s owners, each owner's writes in the order of the documents' places
// (a node orders complete ties by when documents were added), and waits for them.
boost::asio::awaitable<void> apply(Context& ctx, const Copy& to, const std::string& pk,
                                   Mends& mends, SyncCounts& counts);

// Fills `to` with every document of `from`, each to the owners of its shard under `to`'s count,
// every owner receiving its documents in the order of their places (so that a node orders
// complete ties as Miroir does): the nodes of `from` read in their order and merged by place.
boost::asio::awaitable<void> backfill(Context& ctx, const Copy& from, const Copy& to,
                                      const std::string& pk, anti_entropy::Throttle& throttle,
                                      SyncCounts& counts);

}  // namespace miroir::workers::resharding
