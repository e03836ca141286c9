// The stored topology's aliases: dumped and parsed back unchanged, absent when there are none,
// and looked up by name.
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
