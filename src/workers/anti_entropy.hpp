// Anti-entropy's parts, shared by its files: the pass over an index's shards
// (anti_entropy.cpp) and the repair of what differs, under the closed write gate
// (anti_entropy_repair.cpp). The digests and verdicts are pure (entropy/digest.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "rebalance.hpp"

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

// At most `rate` documents read per second (0: no limit), spread over time.
class Throttle {
  public:
    explicit Throttle(std::uint32_t rate);
    boost::asio::awaitable<void> take(std::uint64_t documents);

  private:
    std::uint32_t rate_;
    std::chrono::steady_clock::time_point start_;
    std::uint64_t taken_ = 0;
};

// Pages the documents `filter` selects on node `slot` (every document when empty) to `each`,
// with their vectors when `vectors`; false when the node lacks the index.
boost::asio::awaitable<bool> stream(Context& ctx, std::size_t slot, const std::string& uid,
                                    const std::string& filter, const nlohmann::ordered_json& fields,
                                    Throttle& throttle, Counts& counts,
                                    const std::function<void(const nlohmann::ordered_json&)>& each,
                                    bool vectors = false);

// Compares the copies of `shard` on `owners` by digests; the ids of differing buckets go to
// `suspects`.
boost::asio::awaitable<void> compare_shard(Context& ctx, const std::string& uid,
                                           const std::string& pk, std::uint32_t shard,
                                           const std::vector<std::size_t>& owners,
                                           Throttle& throttle, Counts& counts, Suspects& suspects);

// Reads the suspects again on every node under the closed write gate (the nodes idle on the
// index), and makes each document on its owners as the verdict says; false when the gate
// could not be taken (a rebalance runs or holds the lease): they wait for the next pass.
boost::asio::awaitable<bool> repair(Context& ctx, const std::string& uid, const std::string& pk,
                                    const Suspects& suspects, Counts& counts);

// Every owner of `shard`, group after group, each group's in its owner order.
std::vector<std::size_t> all_owners(const fleet::Fleet& fleet, std::uint32_t shard);

// Before a rebalance copies a shard from the first of `sources` (the nodes holding it, none
// with hints pending for it), under its closed write gate with each source idle on the index:
// the `suspects` its digests found differing among them (compare_shard, before the gate
// closed) are read again and repaired among the sources, so that the copy starts from a
// source that agrees with its peers.
boost::asio::awaitable<void> settle_sources(Context& ctx, const std::string& uid,
                                            const std::string& pk, const Suspects& suspects,
                                            const std::vector<std::size_t>& sources,
                                            rebalancing::GateState& gate, bool& expired);

// A document's canonical id as shards are routed by: a string as is, a number as its text.
std::string canonical_id(const nlohmann::ordered_json& id);

}  // namespace miroir::workers::anti_entropy
