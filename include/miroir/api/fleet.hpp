// Fleet: the configured nodes as replica groups, with each group's placement of the shards.
// Answers "which nodes hold shard s" for the write and read paths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <miroir/routing/placement.hpp>

namespace miroir::config {
struct Config;
}

namespace miroir::api {

struct Group {
    int id = 0;
    std::vector<std::size_t> nodes;  // indexes into Context::nodes
    routing::GroupPlacement placement;
    // floor(copies/2)+1: owners that must accept a write for this group to count it
    std::uint32_t quorum = 1;
};

class Fleet {
  public:
    explicit Fleet(const config::Config& config);

    const std::vector<Group>& groups() const { return groups_; }
    std::uint32_t shards() const { return shards_; }
    // Copies of one document across the fleet: the sum over groups of min(RF, group size).
    std::uint32_t copies() const { return copies_; }
    // The node indexes owning `shard` in `group`, best first.
    std::vector<std::size_t> owners(const Group& group, std::uint32_t shard) const;
    const std::string& node_id(std::size_t node) const { return ids_[node]; }
    // The replica group of a node.
    const Group& group_of(std::size_t node) const;
    std::size_t size() const { return ids_.size(); }

  private:
    std::vector<std::string> ids_;
    std::vector<Group> groups_;
    std::uint32_t shards_;
    std::uint32_t copies_ = 0;
};

}  // namespace miroir::api
