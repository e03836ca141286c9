// Replica groups from the configuration, in configuration order.
#include <algorithm>

#include <miroir/api/fleet.hpp>
#include <miroir/config/config.hpp>

namespace miroir::api {

namespace {

routing::GroupPlacement placement_of(const config::Config& config, int group) {
    std::vector<std::string> ids;
    for (const auto& n : config.nodes) {
        if (n.replica_group == group) ids.push_back(n.id);
    }
    return routing::GroupPlacement(std::move(ids), config.shards, config.replication_factor);
}

}  // namespace

Fleet::Fleet(const config::Config& config) : shards_(config.shards) {
    for (const auto& n : config.nodes) ids_.push_back(n.id);
    for (std::uint32_t g = 0; g < config.replica_groups; ++g) {
        Group group{static_cast<int>(g), {}, placement_of(config, static_cast<int>(g)), 1};
        for (std::size_t i = 0; i < config.nodes.size(); ++i) {
            if (config.nodes[i].replica_group == static_cast<int>(g)) group.nodes.push_back(i);
        }
        const auto copies = std::min<std::uint32_t>(config.replication_factor,
                                                    static_cast<std::uint32_t>(group.nodes.size()));
        group.quorum = copies / 2 + 1;
        copies_ += copies;
        groups_.push_back(std::move(group));
    }
}

std::vector<std::size_t> Fleet::owners(const Group& group, std::uint32_t shard) const {
    std::vector<std::size_t> out;
    for (const auto& id : group.placement.owners(shard)) {
        const auto it = std::find(ids_.begin(), ids_.end(), id);
        out.push_back(static_cast<std::size_t>(it - ids_.begin()));
    }
    return out;
}

const Group& Fleet::group_of(std::size_t node) const {
    for (const auto& group : groups_) {
        if (std::find(group.nodes.begin(), group.nodes.end(), node) != group.nodes.end()) {
            return group;
        }
    }
    return groups_.front();
}

}  // namespace miroir::api
