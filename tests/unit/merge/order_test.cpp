// The merge order of hits from different nodes.
#include <gtest/gtest.h>

#include <miroir/merge/order.hpp>
#include <miroir/routing/shard_field.hpp>

namespace miroir::merge {
namespace {

using json = nlohmann::ordered_json;

json hit(json details, double score) {
    return {{"_rankingScore", score}, {"_rankingScoreDetails", std::move(details)}};
}

int cmp(const json& a, const json& b) { return compare(rank_key(a), rank_key(b)); }

TEST(MergeOrder, TypoCountsCompareAcrossNodesWhoseMaximumsDiffer) {
    // node A knows 2-typo variants of the word (maxTypoCount 2), node B does not (max 0):
    // B's hit with one typo scores higher on its own node, yet ranks after A's exact hit
    const json a = hit(
        {{"words", {{"order", 0}, {"matchingWords", 1}, {"maxMatchingWords", 1}, {"score", 1.0}}},
         {"typo", {{"order", 1}, {"typoCount", 0}, {"maxTypoCount", 2}, {"score", 1.0}}}},
        0.9);
    const json b = hit(
        {{"words", {{"order", 0}, {"matchingWords", 1}, {"maxMatchingWords", 1}, {"score", 1.0}}},
         {"typo", {{"order", 1}, {"typoCount", 1}, {"maxTypoCount", 1}, {"score", 0.5}}}},
        0.95);
    EXPECT_LT(cmp(a, b), 0);
    EXPECT_GT(cmp(b, a), 0);
}

TEST(MergeOrder, AgreeingOnEveryRuleIsATieWhateverTheNodeScores) {
    // the same bucket on two nodes whose typo maximums differ: their scores differ, yet one
    // node holding both would have them tied
    auto typo_hit = [](int max_typo, double typo_score, double score, int id) {
        json h = hit(
            {{"words", {{"order", 0}, {"matchingWords", 1}, {"maxMatchingWords", 1}}},
             {"typo",
              {{"order", 1}, {"typoCount", 1}, {"maxTypoCount", max_typo}, {"score", typo_score}}},
             {"proximity", {{"order", 2}, {"score", 1.0}}}},
            score);
        h["id"] = id;
        return h;
    };
    const json a = typo_hit(1, 0.5, 0.5, 7);
    const json b = typo_hit(2, 2.0 / 3, 0.66, 3);
    EXPECT_EQ(cmp(a, b), 0);
    // so the primary key decides, not the node that answered
    const json la = json::array({a});
    const json lb = json::array({b});
    const std::vector<std::pair<std::size_t, std::size_t>> want = {{1, 0}, {0, 0}};
    EXPECT_EQ(merge_ordered({&la, &lb}, 2, "id"), want);
    EXPECT_EQ(merge_ordered({&lb, &la}, 2, "id"),
              (std::vector<std::pair<std::size_t, std::size_t>>{{0, 0}, {1, 0}}));
}

TEST(MergeOrder, RulesAreWalkedInTheirOrder) {
    // more matching words wins before anything else, whatever the key order in the object
    const json a = hit({{"typo", {{"order", 1}, {"typoCount", 0}}},
                        {"words", {{"order", 0}, {"matchingWords", 2}}}},
                       0.1);
    const json b = hit({{"typo", {{"order", 1}, {"typoCount", 0}}},
                        {"words", {{"order", 0}, {"matchingWords", 1}}}},
                       0.9);
    EXPECT_LT(cmp(a, b), 0);
}

TEST(MergeOrder, SortValuesNumbersThenStringsThenMissing) {
    auto by = [](const char* rule, json value) {
        return hit({{rule, {{"order", 0}, {"value", std::move(value)}}}}, 1.0);
    };
    EXPECT_LT(cmp(by("price:asc", 1.5), by("price:asc", 2.0)), 0);
    EXPECT_LT(cmp(by("price:desc", 2.0), by("price:desc", 1.5)), 0);
    EXPECT_LT(cmp(by("price:desc", 1.0), by("price:desc", "abc")), 0);
    EXPECT_LT(cmp(by("price:asc", 1.0), by("price:asc", "abc")), 0);
    EXPECT_LT(cmp(by("title:asc", "abc"), by("title:asc", nullptr)), 0);
    EXPECT_LT(cmp(by("title:desc", "abc"), by("title:desc", nullptr)), 0);
    EXPECT_LT(cmp(by("title:desc", "b"), by("title:desc", "a")), 0);
    EXPECT_EQ(cmp(by("title:asc", "a"), by("title:asc", "a")), 0);
}

TEST(MergeOrder, ExactnessByMatchTypeThenExactWords) {
    auto ex = [](const char* type, int words) {
        json d = {{"order", 0}, {"matchType", type}};
        if (words >= 0) d["matchingWords"] = words;
        return hit({{"exactness", d}}, 0.5);
    };
    EXPECT_LT(cmp(ex("exactMatch", -1), ex("matchesStart", -1)), 0);
    EXPECT_LT(cmp(ex("matchesStart", -1), ex("noExactMatch", 3)), 0);
    EXPECT_LT(cmp(ex("noExactMatch", 2), ex("noExactMatch", 1)), 0);
}

TEST(MergeOrder, GeoSortNearerFirstMissingLast) {
    auto geo = [](json distance) {
        return hit({{"_geoPoint(45, 5):asc", {{"order", 0}, {"distance", std::move(distance)}}}},
                   1.0);
    };
    EXPECT_LT(cmp(geo(10.0), geo(200.0)), 0);
    EXPECT_LT(cmp(geo(200.0), geo(nullptr)), 0);
}

TEST(MergeOrder, FallsBackToTheScore) {
    EXPECT_LT(cmp(hit(json::object(), 0.8), hit(json::object(), 0.7)), 0);
    EXPECT_EQ(cmp(hit(json::object(), 0.8), hit(json::object(), 0.8)), 0);
}

TEST(MergeOrder, KWayMergeOfOrderedListsStopsAtTheWindow) {
    auto words = [](int n, double score) {
        return hit({{"words", {{"order", 0}, {"matchingWords", n}}}}, score);
    };
    const json a = json::array({words(3, 0.9), words(2, 0.8), words(1, 0.1)});
    const json b = json::array({words(3, 0.9), words(1, 0.5)});
    const json empty = json::array();
    const auto merged = merge_ordered({&a, &empty, &b}, 4);
    // a full tie keeps list order, whatever the node scores (0.1 and 0.5 for one word)
    const std::vector<std::pair<std::size_t, std::size_t>> want = {{0, 0}, {2, 0}, {0, 1}, {0, 2}};
    EXPECT_EQ(merged, want);
    EXPECT_EQ(merge_ordered({&a, &b}, 100).size(), 5u);
    EXPECT_TRUE(merge_ordered({&a, &b}, 0).empty());
}

TEST(MergeOrder, FullTiesGoByPrimaryKeyNumbersBeforeStrings) {
    auto tied = [](json id) {
        json h = hit({{"words", {{"order", 0}, {"matchingWords", 1}}}}, 0.5);
        h["id"] = std::move(id);
        return h;
    };
    const json better = hit({{"words", {{"order", 0}, {"matchingWords", 2}}}}, 0.9);
    // each node's ties in key order, as a node gives documents added in key order
    const json a = json::array({better, tied(3), tied(10), tied("b")});
    const json b = json::array({tied(2), tied(4), tied("a")});
    const std::vector<std::pair<std::size_t, std::size_t>> want = {{0, 0}, {1, 0}, {0, 1}, {1, 1},
                                                                   {0, 2}, {1, 2}, {0, 3}};
    EXPECT_EQ(merge_ordered({&a, &b}, 10, "id"), want);
    // without a tie field, ties keep list order
    const std::vector<std::pair<std::size_t, std::size_t>> by_list = {
        {0, 0}, {0, 1}, {0, 2}, {0, 3}, {1, 0}, {1, 1}, {1, 2}};
    EXPECT_EQ(merge_ordered({&a, &b}, 10), by_list);
}

TEST(MergeOrder, FullTiesGoByInsertionBeforeThePrimaryKey) {
    auto tied = [](json id, std::uint64_t stamp, std::uint64_t position) {
        json h = hit({{"words", {{"order", 0}, {"matchingWords", 1}}}}, 0.5);
        h["id"] = std::move(id);
        h[std::string(routing::kOrdField)] = routing::ord_value({stamp, position});
        return h;
    };
    // documents 5, 3, 9, 1 added in that order by one write, 7 by a later one: each node lists
    // its share in that order
    const json a = json::array({tied(5, 100, 0), tied(1, 100, 3), tied(7, 200, 0)});
    const json b = json::array({tied(3, 100, 1), tied(9, 100, 2)});
    const std::vector<std::pair<std::size_t, std::size_t>> want = {
        {0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 2}};
    EXPECT_EQ(merge_ordered({&a, &b}, 10, "id"), want);
    // a hit without a place (written before places were) falls back to the key
    json old = tied(2, 0, 0);
    old.erase(std::string(routing::kOrdField));
    EXPECT_EQ(compare_places(old, a[0]), 0);
    EXPECT_LT(compare_places(a[0], b[0]), 0);
    EXPECT_GT(compare_places(a[2], b[1]), 0);
}

}  // namespace
}  // namespace miroir::merge
