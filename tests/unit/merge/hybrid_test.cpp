// Hybrid search's merge of a keyword side and a semantic side, as milli merges them.
#include <gtest/gtest.h>

#include <miroir/merge/hybrid.hpp>

namespace miroir::merge {
namespace {

using json = nlohmann::ordered_json;

json keyword(int id, double score, bool sorted = false) {
    json details = {{"words", {{"order", 0}, {"matchingWords", 1}}}};
    if (sorted) details["year:asc"] = {{"order", 1}, {"value", 2000}};
    return {{"id", id}, {"_rankingScore", score}, {"_rankingScoreDetails", details}};
}

json semantic(int id, double similarity) {
    return {{"id", id},
            {"_rankingScore", similarity},
            {"_rankingScoreDetails", {{"vectorSort", {{"order", 0}, {"similarity", similarity}}}}}};
}

TEST(HybridMerge, KeywordSideGoodEnoughWhenItFillsTheWindowAboveTheBar) {
    // ratio 0.5: a keyword hit must score 0.9 to weigh 0.45
    const json hits = json::array({keyword(1, 1.0), keyword(2, 0.95), keyword(3, 0.5)});
    const std::vector<const json*> lists = {&hits};
    const Order order = {{0, 0}, {0, 1}, {0, 2}};
    EXPECT_TRUE(keyword_good_enough(lists, order, 2, 0.5));
    EXPECT_FALSE(keyword_good_enough(lists, order, 3, 0.5));     // 0.5 × 0.5 < 0.45
    EXPECT_FALSE(keyword_good_enough(lists, {{0, 0}}, 2, 0.5));  // the window is not full
    EXPECT_TRUE(keyword_good_enough(lists, order, 3, 0.05));     // 0.5 × 0.95 ≥ 0.45
}

TEST(HybridMerge, SidesMeetByWeightedScoreSemanticFirstOnATie) {
    // list 0: keyword side; list 1: semantic side
    const json kw = json::array({keyword(1, 0.6), keyword(2, 0.2)});
    const json sem = json::array({semantic(3, 0.9), semantic(4, 0.6), semantic(1, 0.1)});
    const std::vector<const json*> lists = {&kw, &sem};
    const Order keyword_order = {{0, 0}, {0, 1}};
    const Order semantic_order = {{1, 0}, {1, 1}, {1, 2}};
    // 0.45 (sem 3), then 0.3 twice: the semantic hit 4 first, then keyword 1; keyword 2 (0.1)
    // before... the semantic copy of document 1 (0.05) is left out
    const Order want = {{1, 0}, {1, 1}, {0, 0}, {0, 1}};
    EXPECT_EQ(merge_hybrid(lists, semantic_order, keyword_order, 0.5, "id"), want);
}

TEST(HybridMerge, KeywordHitWithSortValuesLeftWinsATie) {
    const json kw = json::array({keyword(1, 0.6, true)});
    const json sem = json::array({semantic(2, 0.6)});
    const std::vector<const json*> lists = {&kw, &sem};
    const Order want = {{0, 0}, {1, 0}};
    EXPECT_EQ(merge_hybrid(lists, {{1, 0}}, {{0, 0}}, 0.5, "id"), want);
}

}  // namespace
}  // namespace miroir::merge
