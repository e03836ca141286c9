// The primary-key planner: which filters pin document ids, and which leave every shard asked.
#include <gtest/gtest.h>

#include <miroir/routing/pinned.hpp>

namespace {

using json = nlohmann::ordered_json;
using miroir::routing::pinned_ids;
using Ids = std::vector<std::string>;

std::optional<Ids> pin(const json& filter) { return pinned_ids(filter, "id"); }

TEST(PinnedIds, EqualityAndInPinTheirIds) {
    EXPECT_EQ(pin("id = 5"), Ids{"5"});
    EXPECT_EQ(pin("id = \"abc-1\""), Ids{"abc-1"});
    EXPECT_EQ(pin("id='x_y'"), Ids{"x_y"});
    EXPECT_EQ(pin("id IN [1, 2, \"three\"]"), (Ids{"1", "2", "three"}));
    EXPECT_EQ(pin("id in [7]"), Ids{"7"});
    EXPECT_EQ(pin("(id = 5)"), Ids{"5"});
}

TEST(PinnedIds, AConjunctionPinsThroughAnyOfItsConditions) {
    EXPECT_EQ(pin("genre = drama AND id = 5"), Ids{"5"});
    EXPECT_EQ(pin("id IN [1, 2] AND (genre = drama OR genre = comedy)"), (Ids{"1", "2"}));
    EXPECT_EQ(pin(json::array({"genre = drama", "id = 9"})), Ids{"9"});
    EXPECT_EQ(pin(json::array({json::array({"id = 9"}), "genre = x"})), Ids{"9"});
}

TEST(PinnedIds, AnythingUncertainAsksEveryShard) {
    EXPECT_EQ(pin(json()), std::nullopt);
    EXPECT_EQ(pin("genre = drama"), std::nullopt);
    EXPECT_EQ(pin("id = 5 OR genre = drama"), std::nullopt);
    EXPECT_EQ(pin("(id = 5 OR id = 6) AND genre = x"), std::nullopt);
    EXPECT_EQ(pin("NOT id = 5"), std::nullopt);
    EXPECT_EQ(pin("id != 5"), std::nullopt);
    EXPECT_EQ(pin("id > 5"), std::nullopt);
    EXPECT_EQ(pin("id = 5.0"), std::nullopt);  // not a document id as written
    EXPECT_EQ(pin("ID = 5"), std::nullopt);    // another attribute
    EXPECT_EQ(pin("id IN []"), std::nullopt);
    EXPECT_EQ(pin("id IN [1 2]"), std::nullopt);
    EXPECT_EQ(pin("id = \"unterminated"), std::nullopt);
    EXPECT_EQ(pin("(id = 5"), std::nullopt);
    EXPECT_EQ(pin(json::array({json::array({"id = 9", "id = 10"})})), std::nullopt);
    EXPECT_EQ(pinned_ids("id = 5", ""), std::nullopt);
}

}  // namespace

TEST(FilterAttributes, TheAttributeOfEveryCondition) {
    using V = std::vector<std::string>;
    EXPECT_EQ(
        miroir::routing::filter_attributes(json("genre = drama AND (year > 2000 OR NOT rating "
                                                "EXISTS)")),
        (V{"genre", "year", "rating"}));
    EXPECT_EQ(miroir::routing::filter_attributes(json("price 10 TO 20 AND tags IN [a, b] AND "
                                                      "\"title x\" IS NULL")),
              (V{"price", "tags", "title x"}));
    // the array form, an inner array ORed; each attribute once
    EXPECT_EQ(miroir::routing::filter_attributes(json::parse(R"([["a = 1", "b = 2"], "a != 3"])")),
              (V{"a", "b"}));
    // geo functions test no attribute; what does not tokenize adds none
    EXPECT_EQ(miroir::routing::filter_attributes(json("_geoRadius(1, 2, 3) AND city = x")),
              (V{"city"}));
    EXPECT_EQ(miroir::routing::filter_attributes(json("title = \"open")), V{});
    EXPECT_EQ(miroir::routing::filter_attributes(json()), V{});
}
