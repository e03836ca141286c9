// The topology as data (seeded from the configuration, stored as JSON) and the fleet snapshot
// built from it: each group's read placement and, during a rebalance, the placement writes
// also reach.
#include <algorithm>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/fleet.hpp>

#include "aliases_json.hpp"

namespace miroir::fleet {

namespace {

using json = nlohmann::ordered_json;

constexpr std::string_view kRoles[] = {"active", "joining", "draining", "removed"};

}  // namespace

std::string_view to_string(NodeRole role) { return kRoles[static_cast<int>(role)]; }

std::optional<NodeRole> role_from(std::string_view text) {
    for (int i = 0; i < 4; ++i) {
        if (kRoles[i] == text) return static_cast<NodeRole>(i);
    }
    return std::nullopt;
}

Topology Topology::seed(const config::Config& config) {
    Topology t;
    t.shards = config.shards;
    t.replication_factor = config.replication_factor;
    for (const auto& n : config.nodes) {
        t.nodes.push_back({n.id, n.address, n.replica_group, NodeRole::active, n.host, n.port});
    }
    for (std::uint32_t g = 0; g < config.replica_groups; ++g) {
        t.groups.push_back(static_cast<int>(g));
    }
    return t;
}

Topology Topology::parse(std::string_view text) {
    const auto j = json::parse(text, nullptr, false);
    if (!j.is_object()) throw std::invalid_argument("the stored topology is not a JSON object");
    try {
        Topology t;
        t.version = j.at("version").get<std::uint64_t>();
        t.shards = j.at("shards").get<std::uint32_t>();
        t.replication_factor = j.at("replicationFactor").get<std::uint32_t>();
        for (const auto& n : j.at("nodes")) {
            config::Node node;
            node.id = n.at("id").get<std::string>();
            node.address = n.at("address").get<std::string>();
            config::check_node(node, "node");
            const auto role = role_from(n.at("role").get<std::string>());
            if (!role) throw std::invalid_argument("the stored topology has an unknown node role");
            t.nodes.push_back(
                {node.id, node.address, n.at("group").get<int>(), *role, node.host, node.port});
        }
        t.groups = j.at("groups").get<std::vector<int>>();
        if (j.contains("rebalance") && j["rebalance"].is_object()) {
            const auto& r = j["rebalance"];
            Rebalance b;
            b.id = r.at("id").get<std::uint64_t>();
            b.group = r.at("group").get<int>();
            b.before = r.at("before").get<std::vector<std::string>>();
            b.after = r.at("after").get<std::vector<std::string>>();
            b.phase = r.at("phase").get<std::string>();
            b.copied = r.at("copied").get<std::vector<std::uint32_t>>();
            const auto by_count = r.value("copiedByCount", json::object());
            for (const auto& [count, shards] : by_count.items()) {
                b.copied_by_count[static_cast<std::uint32_t>(std::stoul(count))] =
                    shards.get<std::vector<std::uint32_t>>();
            }
            b.shards_moving = r.value("shardsMoving", std::uint64_t{0});
            b.copies_moved = r.value("copiesMoved", std::uint64_t{0});
            b.minimum_copies = r.value("minimumCopies", 0.0);
            b.documents_copied = r.value("documentsCopied", std::uint64_t{0});
            b.started_at = r.value("startedAt", std::int64_t{0});
            b.finished_at = r.value("finishedAt", std::int64_t{0});
            b.error = r.value("error", std::string());
            t.rebalance = std::move(b);
        }
        if (j.contains("aliases")) t.aliases = aliases_from_json(j["aliases"]);
        if (j.contains("ttl")) t.ttl = ttl_from_json(j["ttl"]);
        if (j.contains("ilm")) t.ilm = ilm_from_json(j["ilm"]);
        if (j.contains("layouts")) t.layouts = layouts_from_json(j["layouts"]);
        return t;
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(std::string("the stored topology is malformed: ") + e.what());
    } catch (const config::ConfigError& e) {
        throw std::invalid_argument(std::string("the stored topology is malformed: ") + e.what());
    }
}

std::string Topology::dump() const {
    json j;
    j["version"] = version;
    j["shards"] = shards;
    j["replicationFactor"] = replication_factor;
    j["nodes"] = json::array();
    for (const auto& n : nodes) {
        j["nodes"].push_back({{"id", n.id},
                              {"address", n.address},
                              {"group", n.group},
                              {"role", to_string(n.role)}});
    }
    j["groups"] = groups;
    if (rebalance) {
        const auto& b = *rebalance;
        j["rebalance"] = {{"id", b.id},
                          {"group", b.group},
                          {"before", b.before},
                          {"after", b.after},
                          {"phase", b.phase},
                          {"copied", b.copied},
                          {"shardsMoving", b.shards_moving},
                          {"copiesMoved", b.copies_moved},
                          {"minimumCopies", b.minimum_copies},
                          {"documentsCopied", b.documents_copied},
                          {"startedAt", b.started_at},
                          {"finishedAt", b.finished_at},
                          {"error", b.error}};
        if (!b.copied_by_count.empty()) {
            auto& by_count = j["rebalance"]["copiedByCount"] = json::object();
            for (const auto& [count, copied_shards] : b.copied_by_count) {
                by_count[std::to_string(count)] = copied_shards;
            }
        }
    }
    if (!aliases.empty()) j["aliases"] = aliases_to_json(aliases);
    if (!ttl.empty()) j["ttl"] = ttl_to_json(ttl);
    if (!ilm.empty()) j["ilm"] = ilm_to_json(ilm);
    if (!layouts.empty()) j["layouts"] = layouts_to_json(layouts);
    return j.dump();
}

std::optional<std::size_t> Topology::slot(std::string_view id) const {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].id == id) return i;
    }
    return std::nullopt;
}

std::vector<std::string> Topology::holding(int group) const {
    std::vector<std::string> out;
    for (const auto& n : nodes) {
        if (n.group == group && (n.role == NodeRole::active || n.role == NodeRole::draining)) {
            out.push_back(n.id);
        }
    }
    return out;
}

std::vector<std::string> Topology::target(int group) const {
    std::vector<std::string> out;
    for (const auto& n : nodes) {
        if (n.group == group && (n.role == NodeRole::active || n.role == NodeRole::joining)) {
            out.push_back(n.id);
        }
    }
    return out;
}

const IndexLayout* Topology::layout_of(std::string_view uid) const {
    const auto found = layouts.find(uid);
    return found == layouts.end() ? nullptr : &found->second;
}

bool Topology::is_shadow(std::string_view uid) const {
    return std::any_of(layouts.begin(), layouts.end(),
                       [uid](const auto& entry) { return entry.second.shadow == uid; });
}

std::uint32_t Topology::shards_on_nodes(std::string_view uid) const {
    if (const auto* layout = layout_of(uid)) return layout->shards;
    for (const auto& [owner, layout] : layouts) {
        if (!layout.shadow.empty() && layout.shadow == uid) return layout.shadow_shards;
    }
    return shards;
}

std::vector<std::uint32_t> Topology::shard_counts() const {
    std::vector<std::uint32_t> out{shards};
    for (const auto& [uid, layout] : layouts) {
        for (const auto count : {layout.shards, layout.shadow.empty() ? 0 : layout.shadow_shards}) {
            if (count != 0 && std::find(out.begin(), out.end(), count) == out.end()) {
                out.push_back(count);
            }
        }
    }
    std::sort(out.begin() + 1, out.end());
    return out;
}

const std::string* Topology::filling_shadow() const {
    for (const auto& [uid, layout] : layouts) {
        if (layout.phase == "copying") return &uid;
    }
    return nullptr;
}

std::size_t Rebalance::shards_copied() const {
    auto count = copied.size();
    for (const auto& [shards, done] : copied_by_count) count += done.size();
    return count;
}

Fleet::Fleet(Topology topology) : topology_(std::move(topology)) {
    // the other shard counts first, each a fleet of the same topology without layouts
    for (const auto& [uid, layout] : topology_.layouts) {
        for (const auto count : {layout.shards, layout.shadow_shards}) {
            if (count == 0 || count == topology_.shards || by_shards_.count(count)) continue;
            Topology other = topology_;
            other.layouts.clear();
            other.shards = count;
            by_shards_.emplace(count, std::make_shared<const Fleet>(std::move(other)));
        }
    }
    const auto shards = topology_.shards;
    const auto rf = topology_.replication_factor;
    held_.assign(topology_.nodes.size(), 0);
    for (std::size_t i = 0; i < topology_.nodes.size(); ++i) {
        if (topology_.nodes[i].role != NodeRole::removed) members_.push_back(i);
    }
    const auto* rebalance = topology_.rebalancing() ? &*topology_.rebalance : nullptr;
    for (int id : topology_.groups) {
        // the nodes reads use, and the other placement writes reach during a rebalance
        auto reads = topology_.holding(id);
        std::vector<std::string> other;
        bool in_rebalance = rebalance && rebalance->group == id;
        if (in_rebalance) {
            reads = rebalance->switched() ? rebalance->after : rebalance->before;
            if (rebalance->phase != "cleaning") {
                other = rebalance->switched() ? rebalance->before : rebalance->after;
            }
        }
        // a group being filled for the first time: written, not read, until switched
        const bool readable = !reads.empty();
        if (!readable) std::swap(reads, other);
        Group group{id, {}, routing::GroupPlacement(reads, shards, rf), 1, nullptr, {}};
        for (const auto& n : reads) group.nodes.push_back(*topology_.slot(n));
        if (!other.empty()) {
            group.also_written = std::make_shared<routing::GroupPlacement>(other, shards, rf);
            group.moving.assign(shards, false);
            for (std::uint32_t s = 0; s < shards; ++s) {
                auto a = group.placement.owners(s), b = group.also_written->owners(s);
                std::sort(a.begin(), a.end());
                std::sort(b.begin(), b.end());
                group.moving[s] = a != b;
            }
        }
        // what each node may hold: its read shards, and those it receives or still keeps
        std::vector<std::set<std::uint32_t>> held(topology_.nodes.size());
        for (std::uint32_t s = 0; s < shards; ++s) {
            for (const auto& n : group.placement.owners(s)) held[*topology_.slot(n)].insert(s);
            if (group.also_written) {
                for (const auto& n : group.also_written->owners(s)) {
                    held[*topology_.slot(n)].insert(s);
                }
            }
        }
        // after the switch the old owners keep their copies until cleaned
        if (in_rebalance && rebalance->phase == "cleaning") {
            const routing::GroupPlacement old(rebalance->before, shards, rf);
            for (std::uint32_t s = 0; s < shards; ++s) {
                for (const auto& n : old.owners(s)) held[*topology_.slot(n)].insert(s);
            }
        }
        for (std::size_t i = 0; i < held.size(); ++i) held_[i] += held[i].size();
        const auto copies =
            std::min<std::uint32_t>(rf, static_cast<std::uint32_t>(group.nodes.size()));
        group.quorum = copies / 2 + 1;
        if (readable) {
            copies_ += copies;
            groups_.push_back(group);
        }
        written_.push_back(std::move(group));
    }
    // the readable groups first among the written ones
    std::stable_partition(written_.begin(), written_.end(), [this](const Group& g) {
        return std::any_of(groups_.begin(), groups_.end(),
                           [&](const Group& r) { return r.id == g.id; });
    });
}

std::vector<std::size_t> Fleet::owners(const Group& group, std::uint32_t shard) const {
    std::vector<std::size_t> out;
    for (const auto& id : group.placement.owners(shard)) out.push_back(*topology_.slot(id));
    return out;
}

std::vector<std::size_t> Fleet::write_owners(const Group& group, std::uint32_t shard) const {
    auto out = owners(group, shard);
    if (group.also_written && group.moving[shard]) {
        for (const auto& id : group.also_written->owners(shard)) {
            const auto slot = *topology_.slot(id);
            if (std::find(out.begin(), out.end(), slot) == out.end()) out.push_back(slot);
        }
    }
    return out;
}

const Fleet& Fleet::with_shards(std::uint32_t shards) const {
    const auto found = by_shards_.find(shards);
    return found == by_shards_.end() ? *this : *found->second;
}

const Fleet& Fleet::for_index(std::string_view uid) const {
    return with_shards(topology_.shards_on_nodes(uid));
}

std::optional<Fleet::Shadow> Fleet::shadow_of(std::string_view uid) const {
    const auto* layout = topology_.layout_of(uid);
    if (!layout || layout->shadow.empty()) return std::nullopt;
    return Shadow{layout->shadow, &with_shards(layout->shadow_shards)};
}

std::optional<Fleet::Shadow> Fleet::written_shadow(std::string_view uid) const {
    const auto* layout = topology_.layout_of(uid);
    if (!layout || layout->phase != "switched") return std::nullopt;
    return shadow_of(uid);
}

const Group& Fleet::group_of(std::size_t node) const {
    for (const auto& group : written_) {
        if (std::find(group.nodes.begin(), group.nodes.end(), node) != group.nodes.end()) {
            return group;
        }
    }
    const int id = node < topology_.nodes.size() ? topology_.nodes[node].group : 0;
    for (const auto& group : written_) {
        if (group.id == id) return group;
    }
    return written_.front();
}

}  // namespace miroir::fleet
