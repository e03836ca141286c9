// Shard and owner computation (see docs/routing.md for the definitions, which are a contract:
// changing them moves data).
#include <algorithm>
#include <xxhash.h>

#include <miroir/routing/placement.hpp>

namespace miroir::routing {

std::uint32_t shard_of(std::string_view canonical_pk, std::uint32_t shards) {
    const auto h = XXH64(canonical_pk.data(), canonical_pk.size(), 0);
    return static_cast<std::uint32_t>(h % shards);
}

std::uint64_t rendezvous_score(std::uint32_t shard, std::string_view node_id) {
    std::string key = std::to_string(shard);
    key += ':';
    key += node_id;
    return XXH64(key.data(), key.size(), 0);
}

std::vector<std::string> owners(std::uint32_t shard, const std::vector<std::string>& nodes,
                                std::uint32_t rf) {
    std::vector<std::pair<std::uint64_t, const std::string*>> scored;
    scored.reserve(nodes.size());
    for (const auto& n : nodes) scored.emplace_back(rendezvous_score(shard, n), &n);
    const auto count = std::min<std::size_t>(rf, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(count),
                      scored.end(), [](const auto& a, const auto& b) {
                          if (a.first != b.first) return a.first > b.first;
                          return *a.second < *b.second;
                      });
    std::vector<std::string> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) out.push_back(*scored[i].second);
    return out;
}

GroupPlacement::GroupPlacement(std::vector<std::string> nodes, std::uint32_t shards,
                               std::uint32_t rf)
    : nodes_(std::move(nodes)) {
    owners_.reserve(shards);
    for (std::uint32_t s = 0; s < shards; ++s) owners_.push_back(routing::owners(s, nodes_, rf));
}

std::vector<std::uint32_t> GroupPlacement::shards_of(std::string_view node) const {
    std::vector<std::uint32_t> out;
    for (std::uint32_t s = 0; s < owners_.size(); ++s) {
        const auto& o = owners_[s];
        if (std::find(o.begin(), o.end(), node) != o.end()) out.push_back(s);
    }
    return out;
}

std::vector<ShardMove> plan_moves(const std::vector<std::string>& before,
                                  const std::vector<std::string>& after, std::uint32_t shards,
                                  std::uint32_t rf) {
    std::vector<ShardMove> out;
    for (std::uint32_t s = 0; s < shards; ++s) {
        const auto was = owners(s, before, rf);
        const auto now = owners(s, after, rf);
        ShardMove move{s, {}, {}};
        for (const auto& n : now) {
            if (std::find(was.begin(), was.end(), n) == was.end()) move.gained.push_back(n);
        }
        for (const auto& n : was) {
            if (std::find(now.begin(), now.end(), n) == now.end()) move.lost.push_back(n);
        }
        if (!move.gained.empty() || !move.lost.empty()) out.push_back(std::move(move));
    }
    return out;
}

double minimum_moves(const std::vector<std::string>& before, const std::vector<std::string>& after,
                     std::uint32_t shards, std::uint32_t rf) {
    if (after.empty()) return 0;
    auto share = [shards, rf](const std::vector<std::string>& nodes) {
        const auto copies = std::min<std::size_t>(rf, nodes.size());
        return nodes.empty() ? 0.0
                             : static_cast<double>(shards) * static_cast<double>(copies) /
                                   static_cast<double>(nodes.size());
    };
    const double was = share(before), now = share(after);
    double total = 0;
    for (const auto& n : after) {
        const bool stays = std::find(before.begin(), before.end(), n) != before.end();
        total += std::max(0.0, now - (stays ? was : 0.0));
    }
    return total;
}

}  // namespace miroir::routing
