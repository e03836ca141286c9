// The topology and the fleet. The topology is data — the nodes (each in a replica group, with
// a state), the groups, and the rebalance in progress — persisted in the task store and equal
// on every Miroir pod; the configuration's node list seeds it on the first start. A Fleet is
// one immutable snapshot of it, with each group's placement of the shards: request paths take
// the current snapshot once (Context::fleet()) and use it to the end, and a change installs a
// new one. Node indexes are slots: a node keeps its slot for the life of the topology, removed
// nodes included, so health and node clients are indexed the same in every snapshot.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <miroir/routing/placement.hpp>

namespace miroir::config {
struct Config;
}

namespace miroir::fleet {

// What a node does in its group:
//   active   holds its shards (reads and writes)
//   joining  added, holds nothing until a rebalance moves its shards to it
//   draining leaving: keeps its shards until a rebalance has moved them to the others
//   removed  holds nothing and receives nothing; its slot is kept
enum class NodeRole { active, joining, draining, removed };
std::string_view to_string(NodeRole role);
std::optional<NodeRole> role_from(std::string_view text);

struct NodeEntry {
    std::string id;
    std::string address;  // http://host:port
    int group = 0;
    NodeRole role = NodeRole::active;
    std::string host;  // from address
    std::uint16_t port = 0;
};

// A change of one group's node list being carried out (docs/operations.md, "Rebalancing").
//   copying   writes of moving shards go to old and new owners; shards are copied to their new
//             owners one at a time; reads stay on the old owners
//   switched  every copy is done: reads go to the new owners, writes still to both
//   cleaning  writes go to the new owners only; the old owners' copies are deleted
//   done      finished: the group's nodes are `after`
//   failed    stopped on an error (`error`); reads as in copying, writes to both; resumable
struct Rebalance {
    std::uint64_t id = 0;
    int group = 0;
    std::vector<std::string> before, after;  // the group's node ids, before and after
    std::string phase = "copying";
    std::vector<std::uint32_t> copied;  // shards whose copy is done (every index)
    // the same, of the indexes routed with another shard count than the fleet's, by count
    std::map<std::uint32_t, std::vector<std::uint32_t>> copied_by_count;
    std::uint64_t shards_moving = 0;
    std::uint64_t copies_moved = 0;  // shard copies to move (a shard gaining 2 owners counts 2)
    double minimum_copies = 0;
    std::uint64_t documents_copied = 0;
    std::int64_t started_at = 0, finished_at = 0;  // unix ms
    std::string error;

    bool finished() const { return phase == "done"; }
    // The shards copied, of every shard count.
    std::size_t shards_copied() const;
    // reads use the `after` owners
    bool switched() const { return phase == "switched" || phase == "cleaning" || phase == "done"; }
};

// A name standing for indexes (docs/operations.md, "Aliases"): one target takes reads and
// writes; several targets are read-only and searched as one federated search. The last flips
// are kept, newest last.
// An index's document TTL (POST /_miroir/indexes/{uid}/ttl-policy). While enabled, its reads
// hide the documents whose `_miroir_expires_at` has passed, documents written without one get
// `default_ttl_s` from their write (when not 0), and the sweeper deletes expired documents.
struct TtlPolicy {
    std::int64_t default_ttl_s = 0;
    std::int64_t sweep_interval_s = 60;
    std::int64_t max_deletes_per_sweep = 10000;
    bool enabled = true;
    bool filterable = false;  // the nodes hold `_miroir_expires_at` filterable: reads filter
};

// A rolling index family (POST /_miroir/ilm): documents are written through `write_alias` to
// the newest of `indexes` (`pattern` with `{n}` the generation); a new index is rolled over to
// when the newest holds `max_documents` or is `max_age_s` old (0: never), and `read_alias`
// searches the newest `retain`, the older ones being deleted.
struct IlmPolicy {
    std::string write_alias, read_alias, pattern;
    std::optional<std::string> primary_key;
    std::uint64_t max_documents = 0;
    std::int64_t max_age_s = 0;
    std::uint32_t retain = 1;
    std::int64_t check_interval_s = 60;
    std::uint64_t generation = 0;      // the newest index's {n}; 0 before the first
    std::int64_t rolled_at = 0;        // when the newest was made, Unix ms
    std::vector<std::string> indexes;  // the family's indexes, oldest first
};

// An index whose shard count is its own (docs/operations.md, "Resharding"). While a reshard
// runs, the index has a shadow, a hidden index of the nodes routed with the other shard count;
// after the switch the shadow holds the old copy, written with every write of the index, until
// it is retained no longer or a rollback switches back.
//   copying   the shadow (shards: the new count) is filled by the reshard; reads use the index
//   switched  the index holds the new count's copy, the shadow the old one
// The uid a reshard gives its shadow of index `uid`.
inline std::string shadow_name(std::string_view uid) {
    return std::string(uid) + "__miroir_reshard";
}

struct IndexLayout {
    std::uint32_t shards = 0;
    std::string shadow;  // the shadow's uid on the nodes; empty: none
    std::uint32_t shadow_shards = 0;
    std::string phase;  // "copying", "switched"; empty without a shadow
};

struct AliasFlip {
    std::vector<std::string> targets;
    std::int64_t at = 0;  // unix ms
};
struct Alias {
    std::vector<std::string> targets;
    bool multi = false;  // created with `targets`: read-only, searched across them
    std::int64_t created_at = 0, updated_at = 0;
    std::vector<AliasFlip> history;
};

struct Topology {
    std::uint64_t version = 1;
    std::uint32_t shards = 0;
    std::uint32_t replication_factor = 1;
    std::vector<NodeEntry> nodes;        // slots, in order of addition
    std::vector<int> groups;             // group ids, ascending
    std::optional<Rebalance> rebalance;  // the one in progress, or the last one
    std::map<std::string, Alias, std::less<>> aliases;
    // The indexes with document TTL, by uid: their nodes hold `_miroir_expires_at` filterable.
    std::map<std::string, TtlPolicy, std::less<>> ttl;
    // The rolling index families, by policy name.
    std::map<std::string, IlmPolicy, std::less<>> ilm;
    // The indexes with a shard count of their own, or being resharded, by uid.
    std::map<std::string, IndexLayout, std::less<>> layouts;

    static Topology seed(const config::Config& config);
    // Throws std::invalid_argument on text that is no topology.
    static Topology parse(std::string_view text);
    std::string dump() const;

    std::optional<std::size_t> slot(std::string_view id) const;
    // The ids of a group's nodes holding shards now (active, draining), in slot order.
    std::vector<std::string> holding(int group) const;
    // The ids a group's nodes will be after a rebalance (active, joining), in slot order.
    std::vector<std::string> target(int group) const;
    // A rebalance is running (not done).
    bool rebalancing() const { return rebalance && !rebalance->finished(); }
    // The alias named `name`, if there is one.
    const Alias* alias(std::string_view name) const;
    // The enabled TTL policy of index `uid` whose nodes filter by expiry, if it has one.
    const TtlPolicy* ttl_of(std::string_view uid) const;
    // Index `uid`'s layout, if it has one of its own.
    const IndexLayout* layout_of(std::string_view uid) const;
    // `uid` is the shadow of an index being resharded (hidden from clients and anti-entropy).
    bool is_shadow(std::string_view uid) const;
    // The shard count the nodes' index `uid` is routed with: its layout's, its own as a
    // shadow, or the fleet's.
    std::uint32_t shards_on_nodes(std::string_view uid) const;
    // Every shard count the nodes' indexes are routed with, the fleet's first.
    std::vector<std::uint32_t> shard_counts() const;
    // The index whose shadow a reshard is filling (no rebalance may start meanwhile), if any.
    const std::string* filling_shadow() const;
};

struct Group {
    int id = 0;
    std::vector<std::size_t> nodes;     // the slots reads use: the nodes holding the shards
    routing::GroupPlacement placement;  // owners reads use
    // floor(copies/2)+1: owners that must accept a write for this group to count it
    std::uint32_t quorum = 1;
    // During a rebalance of this group: the other placement (the new owners while copying, the
    // old ones once switched until cleaned), whose owners of a moving shard receive its writes.
    std::shared_ptr<const routing::GroupPlacement> also_written;
    std::vector<bool> moving;  // per shard: its owners differ between the two placements
};

class Fleet {
  public:
    explicit Fleet(Topology topology);

    const Topology& topology() const { return topology_; }
    std::uint64_t version() const { return topology_.version; }
    // The groups reads may use (a group being filled for the first time is not one of them).
    const std::vector<Group>& groups() const { return groups_; }
    // Every group writes reach, the readable ones first.
    const std::vector<Group>& written_groups() const { return written_; }
    std::uint32_t shards() const { return topology_.shards; }
    // Copies of one document across the readable groups: the sum of min(RF, group size).
    std::uint32_t copies() const { return copies_; }
    // The node slots owning `shard` in `group` for reads, best first.
    std::vector<std::size_t> owners(const Group& group, std::uint32_t shard) const;
    // The node slots a write of `shard` goes to in `group`: the owners, and during a rebalance
    // the other placement's owners of a moving shard.
    std::vector<std::size_t> write_owners(const Group& group, std::uint32_t shard) const;
    const std::string& node_id(std::size_t node) const { return topology_.nodes[node].id; }
    const NodeEntry& node(std::size_t slot) const { return topology_.nodes[slot]; }
    // The group a node's reads are in (the first group when it is in none).
    const Group& group_of(std::size_t node) const;
    // How many shards a node may hold documents of: its read shards and, during a rebalance,
    // the shards being copied to it or not yet deleted from it. A read that asks a node for
    // fewer must restrict it to them.
    std::size_t held_by(std::size_t node) const { return held_[node]; }
    // Slots, removed nodes included.
    std::size_t size() const { return topology_.nodes.size(); }
    // The fleet as index `uid` is routed: this one with the index's own shard count (a
    // shadow's, for a shadow), if it has one. Lives as long as this fleet.
    const Fleet& for_index(std::string_view uid) const;
    // The fleet with `shards` shards (this one when it has them).
    const Fleet& with_shards(std::uint32_t shards) const;
    // Index `uid`'s shadow, written with it while it is resharded: its uid on the nodes and the
    // fleet it is routed with.
    struct Shadow {
        std::string uid;
        const Fleet* fleet = nullptr;
    };
    std::optional<Shadow> shadow_of(std::string_view uid) const;
    // The shadow writes of index `uid` also reach: once switched, the old copy kept for a
    // rollback (before, the shadow is filled by the reshard alone, in its places' order).
    std::optional<Shadow> written_shadow(std::string_view uid) const;
    // The slots of every node that is not removed: what broadcasts and health probes reach.
    const std::vector<std::size_t>& members() const { return members_; }

  private:
    Topology topology_;
    std::vector<Group> groups_, written_;
    std::vector<std::size_t> members_, held_;
    std::uint32_t copies_ = 0;
    // the fleets of the other shard counts the layouts use
    std::map<std::uint32_t, std::shared_ptr<const Fleet>> by_shards_;
};

// The current snapshot; replaced as a whole.
class FleetHolder {
  public:
    explicit FleetHolder(std::shared_ptr<const Fleet> fleet) : fleet_(std::move(fleet)) {}
    std::shared_ptr<const Fleet> get() const {
        std::lock_guard lock(mutex_);
        return fleet_;
    }
    // Installs `fleet` when it is of a newer topology version; true when it did.
    bool offer(std::shared_ptr<const Fleet> fleet) {
        std::lock_guard lock(mutex_);
        if (fleet_ && fleet_->version() >= fleet->version()) return false;
        fleet_ = std::move(fleet);
        return true;
    }

  private:
    mutable std::mutex mutex_;
    std::shared_ptr<const Fleet> fleet_;
};

}  // namespace miroir::fleet
