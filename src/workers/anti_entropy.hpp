// Anti-entropy's parts, shared by its files: the pass over an index's shards
// (anti_entropy.cpp) and the repair of what differs, under the closed write gate
// (anti_entropy_repair.cpp). The digests and verdicts are pure (entropy/digest.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

namespace miroir::fleet {
struct Context;
class Fleet;
}  // namespace miroir::fleet

namespace miroir::workers::anti_entropy {

using fleet::Context;

// The task store table of anti-entropy's state: `index:<uid>` (an index's counts and where its
// pass is), `request:<uid>` (a pass asked for), `pass` (the periodic pass over every index).
inline const std::string kTable = "anti-entropy";

// What one pass found and did in one index.
struct Counts {
    std::uint64_t shards_checked = 0;
    std::uint64_t shards_deferred = 0;
    std::uint64_t buckets_differing = 0;
    std::uint64_t documents_read = 0;
    std::uint64_t bytes_read = 0;
    std::uint64_t documents_fetched = 0;  // read again by id before a repair
    std::uint64_t documents_written = 0;
    std::uint64_t documents_deleted = 0;
};

// The ids to check again in one index, by shard (the shard their id routes to).
using Suspects = std::map<std::uint32_t, std::set<std::string>>;

// Reads the suspects again on every node under the closed write gate (the nodes idle on the
// index), and makes each document on its owners as the verdict says; false when the gate
// could not be taken (a rebalance runs or holds the lease): they wait for the next pass.
boost::asio::awaitable<bool> repair(Context& ctx, const std::string& uid, const std::string& pk,
                                    const Suspects& suspects, Counts& counts);

// Every owner of `shard`, group after group, each group's in its owner order.
std::vector<std::size_t> all_owners(const fleet::Fleet& fleet, std::uint32_t shard);

// A document's canonical id as shards are routed by: a string as is, a number as its text.
std::string canonical_id(const nlohmann::ordered_json& id);

}  // namespace miroir::workers::anti_entropy
