// Placement: determinism, uniformity, minimal movement on topology changes, RF > 1.
#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include <miroir/routing/placement.hpp>

namespace miroir::routing {
namespace {

std::vector<std::string> nodes(int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back("meili-" + std::to_string(i));
    return out;
}

TEST(Placement, ShardOfIsStableAcrossVersions) {
    // These values are a contract: every pod and every release must compute them.
    EXPECT_EQ(shard_of("1", 64), 20u);
    EXPECT_EQ(shard_of("abc", 64), 25u);
    EXPECT_EQ(shard_of("63440", 64), 17u);
    EXPECT_EQ(rendezvous_score(12, "meili-0"), 9693530342242288931ULL);
    EXPECT_EQ(shard_of("", 64), 0xEF46DB3751D8E999ULL % 64);  // XXH64 of the empty input
    EXPECT_LT(shard_of("any-id", 7), 7u);
    EXPECT_EQ(shard_of("42", 1), 0u);
}

TEST(Placement, IntegerAndStringIdsShareAShard) {
    // canonical forms are equal, so are shards: the caller canonicalizes 1 and "1" to "1"
    EXPECT_EQ(shard_of(std::to_string(1), 64), shard_of("1", 64));
}

TEST(Placement, KeysSpreadEvenlyOverShards) {
    std::vector<int> counts(64);
    for (int i = 0; i < 10'000; ++i) ++counts[shard_of(std::to_string(i), 64)];
    // 156 expected per shard; a fair hash stays well within ±40%
    for (int c : counts) {
        EXPECT_GT(c, 94);
        EXPECT_LT(c, 219);
    }
}

TEST(Placement, OwnersAreDeterministicAndIndependentOfListOrder) {
    auto a = nodes(5);
    auto b = a;
    std::reverse(b.begin(), b.end());
    for (std::uint32_t s = 0; s < 64; ++s) EXPECT_EQ(owners(s, a, 2), owners(s, b, 2));
}

TEST(Placement, SixtyFourShardsOverThreeNodesAreBalanced) {
    GroupPlacement p(nodes(3), 64, 1);
    std::size_t total = 0;
    for (const auto& n : nodes(3)) {
        const auto held = p.shards_of(n).size();
        EXPECT_GE(held, 12u) << n;
        EXPECT_LE(held, 32u) << n;
        total += held;
    }
    EXPECT_EQ(total, 64u);
}

TEST(Placement, ReplicationFactorGivesDistinctOwnersAsAPrefix) {
    const auto group = nodes(5);
    for (std::uint32_t s = 0; s < 64; ++s) {
        const auto two = owners(s, group, 2);
        const auto three = owners(s, group, 3);
        ASSERT_EQ(two.size(), 2u);
        EXPECT_EQ(std::set<std::string>(three.begin(), three.end()).size(), 3u);
        EXPECT_TRUE(std::equal(two.begin(), two.end(), three.begin()));
    }
    EXPECT_EQ(owners(0, nodes(2), 3).size(), 2u);  // a small group gives what it has
}

TEST(Placement, AddingANodeMovesOnlyShardsToIt) {
    const std::uint32_t shards = 256;
    GroupPlacement before(nodes(3), shards, 1);
    GroupPlacement after(nodes(4), shards, 1);
    std::uint32_t moved = 0;
    for (std::uint32_t s = 0; s < shards; ++s) {
        if (before.owners(s) == after.owners(s)) continue;
        ++moved;
        EXPECT_EQ(after.owners(s)[0], "meili-3") << "shard " << s << " moved between old nodes";
    }
    // the theoretical share is 1/4 of the shards
    EXPECT_GT(moved, shards / 8);
    EXPECT_LT(moved, shards * 3 / 8);
}

TEST(Placement, RemovingANodeMovesOnlyItsShards) {
    const std::uint32_t shards = 256;
    const auto all = nodes(4);
    auto fewer = all;
    fewer.erase(fewer.begin() + 1);
    GroupPlacement before(all, shards, 2);
    GroupPlacement after(fewer, shards, 2);
    for (std::uint32_t s = 0; s < shards; ++s) {
        const auto& old_owners = before.owners(s);
        const bool held =
            std::find(old_owners.begin(), old_owners.end(), "meili-1") != old_owners.end();
        if (!held) {
            EXPECT_EQ(before.owners(s), after.owners(s)) << "shard " << s;
        } else {
            // the surviving owner keeps its copy
            for (const auto& o : old_owners) {
                if (o != "meili-1") {
                    EXPECT_NE(std::find(after.owners(s).begin(), after.owners(s).end(), o),
                              after.owners(s).end());
                }
            }
        }
    }
}

std::size_t copies_moved(const std::vector<ShardMove>& moves) {
    std::size_t n = 0;
    for (const auto& m : moves) n += m.gained.size();
    return n;
}

TEST(PlanMoves, AddingANodeGivesItShardsFromOneOwnerEach) {
    const std::uint32_t shards = 1024;
    const auto moves = plan_moves(nodes(3), nodes(4), shards, 2);
    for (const auto& m : moves) {
        EXPECT_EQ(m.gained, std::vector<std::string>{"meili-3"}) << "shard " << m.shard;
        EXPECT_EQ(m.lost.size(), 1u) << "shard " << m.shard;
    }
    // every node should end with 1024 x 2 / 4 = 512 copies: the new one receives them all
    EXPECT_DOUBLE_EQ(minimum_moves(nodes(3), nodes(4), shards, 2), 512.0);
    EXPECT_NEAR(static_cast<double>(copies_moved(moves)), 512.0, 512.0 * 0.08);
}

TEST(PlanMoves, RemovingANodeHandsOverExactlyItsCopies) {
    const std::uint32_t shards = 1024;
    auto fewer = nodes(4);
    fewer.erase(fewer.begin() + 2);
    const auto moves = plan_moves(nodes(4), fewer, shards, 2);
    const GroupPlacement before(nodes(4), shards, 2);
    EXPECT_EQ(copies_moved(moves), before.shards_of("meili-2").size());
    for (const auto& m : moves) {
        EXPECT_EQ(m.lost, std::vector<std::string>{"meili-2"}) << "shard " << m.shard;
        EXPECT_EQ(m.gained.size(), 1u) << "shard " << m.shard;
    }
    EXPECT_NEAR(minimum_moves(nodes(4), fewer, shards, 2), 512.0, 1e-9);
    EXPECT_NEAR(static_cast<double>(copies_moved(moves)), 512.0, 512.0 * 0.08);
}

TEST(PlanMoves, UnchangedOrReorderedListMovesNothing) {
    auto reordered = nodes(3);
    std::reverse(reordered.begin(), reordered.end());
    EXPECT_TRUE(plan_moves(nodes(3), reordered, 64, 2).empty());
    EXPECT_DOUBLE_EQ(minimum_moves(nodes(3), reordered, 64, 2), 0.0);
}

TEST(PlanMoves, ANewGroupReceivesEveryShard) {
    const auto moves = plan_moves({}, nodes(2), 64, 2);
    ASSERT_EQ(moves.size(), 64u);
    EXPECT_EQ(copies_moved(moves), 128u);
    EXPECT_DOUBLE_EQ(minimum_moves({}, nodes(2), 64, 2), 128.0);
    // and a group that goes away hands everything over to no one in it
    const auto gone = plan_moves(nodes(2), {}, 64, 2);
    EXPECT_EQ(copies_moved(gone), 0u);
    EXPECT_EQ(gone.size(), 64u);
}

}  // namespace
}  // namespace miroir::routing
