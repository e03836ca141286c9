// Placement: which logical shard a document belongs to, and which nodes of a replica group
// own a shard (rendezvous hashing). Pure functions on data, no I/O; every Miroir pod computes
// the same answers from the same node list. The exact definitions are in docs/routing.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace miroir::routing {

// The shard of a document: XXH64(canonical primary key, seed 0) mod `shards`.
// The canonical key is the decimal form of an integer id, or the string id as is, so that
// `1` and `"1"` (the same document for Meilisearch) land on the same shard.
std::uint32_t shard_of(std::string_view canonical_pk, std::uint32_t shards);

// A node's rendezvous score for a shard: XXH64("<shard in decimal>:<node id>", seed 0).
std::uint64_t rendezvous_score(std::uint32_t shard, std::string_view node_id);

// The `rf` owners of `shard` among `nodes` (one replica group): the nodes with the highest
// scores, best first; equal scores are ordered by node id. Fewer when the group is smaller.
std::vector<std::string> owners(std::uint32_t shard, const std::vector<std::string>& nodes,
                                std::uint32_t rf);

// Owners of every shard of one replica group.
class GroupPlacement {
  public:
    GroupPlacement(std::vector<std::string> nodes, std::uint32_t shards, std::uint32_t rf);

    const std::vector<std::string>& owners(std::uint32_t shard) const { return owners_[shard]; }
    // The shards `node` holds a copy of, ascending.
    std::vector<std::uint32_t> shards_of(std::string_view node) const;
    std::uint32_t shard_count() const { return static_cast<std::uint32_t>(owners_.size()); }

  private:
    std::vector<std::string> nodes_;
    std::vector<std::vector<std::string>> owners_;
};

// One shard's change of owners in one replica group when the group's node list changes.
struct ShardMove {
    std::uint32_t shard = 0;
    std::vector<std::string> gained;  // new owners: they receive a copy
    std::vector<std::string> lost;    // former owners: they hand their copy over, then drop it
};

// What changing a group's node list from `before` to `after` moves: the shards whose owners
// differ, in shard order. Rendezvous hashing keeps every other shard where it is.
std::vector<ShardMove> plan_moves(const std::vector<std::string>& before,
                                  const std::vector<std::string>& after, std::uint32_t shards,
                                  std::uint32_t rf);

// The copies any placement that stays balanced must move for that change: every node ends
// with shards × min(rf, |after|) / |after| copies, so each receives at least what it lacks
// of that share compared with what it held before (its share of the old balance, when it
// stays). Fractional: the balance itself is a mean.
double minimum_moves(const std::vector<std::string>& before, const std::vector<std::string>& after,
                     std::uint32_t shards, std::uint32_t rf);

}  // namespace miroir::routing
