// Anti-entropy's pure part (no Asio): what one replica holds of one shard, as a hash per
// document folded into bucket digests, the ids of the buckets whose digests differ between
// replicas, and the verdict on one document over the nodes holding it (docs/operations.md,
// "Anti-entropy").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include <miroir/routing/shard_field.hpp>

namespace miroir::entropy {

// The hash of a document as the client wrote it: its fields in key order, at every depth,
// without Miroir's own (`_miroir_shard`, `_miroir_ord`; `_miroir_expires_at` is the client's).
std::uint64_t document_hash(const nlohmann::ordered_json& document);

// One replica's copy of one document.
struct Version {
    std::uint64_t hash = 0;
    std::optional<routing::Ord> ord;      // its place (the write's stamp); none when never routed
    bool placed = false;                  // `_miroir_shard` names the shard its id routes to
    std::optional<std::int64_t> expires;  // its `_miroir_expires_at` (Unix seconds)
    bool operator==(const Version&) const = default;
};

// `document`'s version, the shard its id routes to being `shard`.
Version version_of(const nlohmann::ordered_json& document, std::uint32_t shard);

// What one replica holds of one shard: each document's version by canonical id, and per
// bucket (the id's hash modulo the bucket count) a digest of the ids and versions in it that
// does not depend on the order they were read in.
class ShardView {
  public:
    explicit ShardView(std::uint32_t buckets);
    void add(const std::string& id, const Version& version);
    std::uint32_t bucket_of(std::string_view id) const;
    const std::vector<std::uint64_t>& digests() const { return digests_; }
    const std::unordered_map<std::string, Version>& versions() const { return versions_; }

  private:
    std::vector<std::uint64_t> digests_;
    std::unordered_map<std::string, Version> versions_;
};

// The buckets whose digests differ between the views (replicas agreeing cost one comparison
// per bucket), and the ids any view holds in them, sorted.
struct Difference {
    std::uint32_t buckets = 0;
    std::vector<std::string> ids;
};
Difference compare(const std::vector<const ShardView*>& views);

// What one node holds of one document, as it is read again before a repair.
struct Holding {
    std::size_t node = 0;
    bool owner = false;              // the node owns the document's shard
    std::optional<Version> version;  // none: it does not hold the document
};

// What to do about one document: write `source`'s copy to `write`, delete it from `remove`.
struct Verdict {
    std::optional<std::size_t> source;
    std::vector<std::size_t> write;
    std::vector<std::size_t> remove;
    bool agreed() const { return write.empty() && remove.empty(); }
};

// The verdict over `holdings`, the owners first in their owners' order. A copy held where its
// shard is not owned is deleted. Among the owners, a copy Miroir wrote (placed and with a place)
// is authoritative: the newest place wins, then the copy most owners hold, then the first
// owner's. An owner lacking the document or holding another copy gets the winner; a document
// no owner holds as Miroir wrote it (written to a node directly) is deleted everywhere. A
// missing copy never wins: deletions a node missed are the hints' to replay.
// A winner that expired at `now` (Unix seconds) wins nothing: every copy is deleted.
Verdict decide(const std::vector<Holding>& holdings, std::int64_t now);

}  // namespace miroir::entropy
