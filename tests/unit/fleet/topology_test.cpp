// The stored topology: its aliases dumped and parsed back unchanged, absent when there are
// none, and looked up by name; its layouts and a rebalance's progress of each shard count.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <miroir/fleet/fleet.hpp>

using miroir::fleet::Alias;
using miroir::fleet::Topology;

namespace {

Topology two_nodes() {
    Topology t;
    t.version = 7;
    t.shards = 16;
    t.replication_factor = 1;
    t.nodes.push_back({"a", "http://127.0.0.1:7701", 0, miroir::fleet::NodeRole::active, "", 0});
    t.nodes.push_back({"b", "http://127.0.0.1:7702", 0, miroir::fleet::NodeRole::active, "", 0});
    t.groups = {0};
    return t;
}

}  // namespace

TEST(TopologyAliases, RoundTrip) {
    auto t = two_nodes();
    t.aliases["live"] = Alias{{"v2"}, false, 10, 20, {{{"v1"}, 10}, {{"v2"}, 20}}};
    t.aliases["logs"] = Alias{{"logs-1", "logs-2"}, true, 30, 30, {{{"logs-1", "logs-2"}, 30}}};
    const auto back = Topology::parse(t.dump());
    ASSERT_EQ(back.aliases.size(), 2u);
    const auto* live = back.alias("live");
    ASSERT_NE(live, nullptr);
    EXPECT_EQ(live->targets, std::vector<std::string>{"v2"});
    EXPECT_FALSE(live->multi);
    EXPECT_EQ(live->created_at, 10);
    EXPECT_EQ(live->updated_at, 20);
    ASSERT_EQ(live->history.size(), 2u);
    EXPECT_EQ(live->history[0].targets, std::vector<std::string>{"v1"});
    EXPECT_EQ(live->history[1].at, 20);
    const auto* logs = back.alias("logs");
    ASSERT_NE(logs, nullptr);
    EXPECT_TRUE(logs->multi);
    EXPECT_EQ(logs->targets, (std::vector<std::string>{"logs-1", "logs-2"}));
    EXPECT_EQ(back.alias("v2"), nullptr);
    EXPECT_EQ(back.dump(), t.dump());
}

TEST(TopologyAliases, NoneLeavesNoKey) {
    const auto t = two_nodes();
    const auto j = nlohmann::json::parse(t.dump());
    EXPECT_FALSE(j.contains("aliases"));
    EXPECT_TRUE(Topology::parse(t.dump()).aliases.empty());
}

TEST(TopologyAliases, MalformedIsRefused) {
    auto j = nlohmann::json::parse(two_nodes().dump());
    j["aliases"] = {{"live", {{"targets", "v1"}}}};  // not a list
    EXPECT_THROW(Topology::parse(j.dump()), std::invalid_argument);
}

// Layouts: each index's shard count (a shadow's its own), every count in use, and a
// rebalance's progress of each count kept through the store.
TEST(TopologyLayouts, ShardCountsOfIndexesAndShadows) {
    auto t = two_nodes();
    t.layouts["logs"] = miroir::fleet::IndexLayout{8, "", 0, ""};
    t.layouts["packages"] =
        miroir::fleet::IndexLayout{32, "packages__miroir_reshard", 16, "switched"};
    t.layouts["books"] = miroir::fleet::IndexLayout{64, "books__miroir_reshard", 4, "copying"};
    EXPECT_EQ(t.shards_on_nodes("logs"), 8u);
    EXPECT_EQ(t.shards_on_nodes("packages"), 32u);
    EXPECT_EQ(t.shards_on_nodes("packages__miroir_reshard"), 16u);
    EXPECT_EQ(t.shards_on_nodes("books__miroir_reshard"), 4u);
    EXPECT_EQ(t.shards_on_nodes("movies"), 16u);
    EXPECT_EQ(t.shard_counts(), (std::vector<std::uint32_t>{16, 4, 8, 32, 64}));
    EXPECT_EQ(miroir::fleet::shadow_name("movies"), "movies__miroir_reshard");
    ASSERT_NE(t.filling_shadow(), nullptr);
    EXPECT_EQ(*t.filling_shadow(), "books");
    t.layouts["books"].phase = "switched";
    EXPECT_EQ(t.filling_shadow(), nullptr);
    const miroir::fleet::Fleet fleet(t);
    EXPECT_EQ(fleet.for_index("packages__miroir_reshard").shards(), 16u);
    EXPECT_EQ(fleet.for_index("books__miroir_reshard").shards(), 4u);
    EXPECT_EQ(fleet.for_index("logs").shards(), 8u);
}

TEST(TopologyLayouts, RebalanceProgressOfEachCountRoundTrips) {
    auto t = two_nodes();
    miroir::fleet::Rebalance r;
    r.id = 3;
    r.before = {"a"};
    r.after = {"a", "b"};
    r.copied = {1, 5};
    r.copied_by_count[8] = {2};
    r.copied_by_count[64] = {7, 9, 11};
    t.rebalance = r;
    const auto back = Topology::parse(t.dump());
    ASSERT_TRUE(back.rebalance.has_value());
    EXPECT_EQ(back.rebalance->copied, (std::vector<std::uint32_t>{1, 5}));
    EXPECT_EQ(back.rebalance->copied_by_count, r.copied_by_count);
    EXPECT_EQ(back.rebalance->shards_copied(), 6u);
    EXPECT_EQ(back.dump(), t.dump());
    // a rebalance stored before counts of their own has none
    auto j = nlohmann::json::parse(t.dump());
    j["rebalance"].erase("copiedByCount");
    EXPECT_TRUE(Topology::parse(j.dump()).rebalance->copied_by_count.empty());
}
