// Resharding's parts, shared by its files: one copy of an index filled from the other, and
// compared to it by documents' ids and places (reshard_sync.cpp); the switch
// (reshard_switch.cpp) and the job that takes a reshard through its phases (reshard.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/fleet.hpp>

#include "anti_entropy.hpp"

namespace miroir::workers::resharding {

using fleet::Context;
using fleet::Fleet;

// The task store table of reshards' records, by index uid.
inline const std::string kTable = "reshards";
// How long a reshard's lease (`reshard:<uid>`) lasts without being renewed, ms.
inline constexpr std::uint32_t kLeaseMs = 30000;

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

// Where each document of `from` is, by canonical id: its place as stored (`_miroir_ord`: a
// write gives a document a new one), the owner it was read from, its id as stored; and the
// ids of each of `to`'s shards.
struct Placed {
    std::string place;
    std::size_t source = 0;
    nlohmann::ordered_json id;
};
struct Places {
    std::unordered_map<std::string, Placed> held;
    std::vector<std::vector<std::string>> by_shard;
};
// What `to`'s owners lack or hold otherwise: by source node, each id to read from it and the
// owners to write it to; by owner, the ids to delete.
struct Needs {
    std::map<std::size_t, std::map<std::string, std::vector<std::size_t>>> write;
    std::map<std::size_t, std::vector<std::string>> remove;
};

// Reads the ids and places of every document of `from` (one owner of each shard).
boost::asio::awaitable<Places> places_of(Context& ctx, const Copy& from, const Copy& to,
                                         const std::string& pk, SyncCounts& counts);
// Compares every owner of `to`'s shard `shard` with `places` by ids and places alone: a
// document's content changes only with its place (a write stamps a new one; an edition by a
// function, which keeps it, is refused before the switch).
boost::asio::awaitable<void> compare_places(Context& ctx, const Copy& to, const std::string& pk,
                                            const Places& places, std::uint32_t shard,
                                            SyncCounts& counts, Needs& needs);
// Reads the documents `needs` names from `from` (by ids), as `to` stores them, into `mends`.
boost::asio::awaitable<void> fetch_needed(Context& ctx, const Copy& from, const Copy& to,
                                          const std::string& pk, const Places& places,
                                          const Needs& needs, Mends& mends);

// Sends `mends` to `to`'s owners, each owner's writes in the order of the documents' places
// (a node orders complete ties by when documents were added), and waits for them.
boost::asio::awaitable<void> apply(Context& ctx, const Copy& to, const std::string& pk,
                                   Mends& mends, SyncCounts& counts);

// Fills `to` with every document of `from`, each to the owners of its shard under `to`'s count,
// every owner receiving its documents in the order of their places (so that a node orders
// complete ties as Miroir does): the nodes of `from` read in their order and merged by place.
// `lease` (the reshard's) is renewed as it goes; Superseded when another pod took it.
boost::asio::awaitable<void> backfill(Context& ctx, const Copy& from, const Copy& to,
                                      const std::string& pk, const std::string& lease,
                                      anti_entropy::Throttle& throttle, SyncCounts& counts);

}  // namespace miroir::workers::resharding
