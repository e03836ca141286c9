// The client's answer built from several nodes' answers.
#include <gtest/gtest.h>

#include <miroir/merge/search.hpp>

namespace miroir::merge {
namespace {

using json = nlohmann::ordered_json;

json node_answer(std::vector<json> hits, std::uint64_t total, json facets = json()) {
    json a = {{"hits", std::move(hits)},
              {"query", "glass"},
              {"processingTimeMs", 3},
              {"estimatedTotalHits", total}};
    if (!facets.is_null()) a["facetDistribution"] = std::move(facets);
    return a;
}

TEST(SearchAnswer, WindowTotalsAndMiroirsFieldsOut) {
    std::vector<json> answers = {
        node_answer({{{"id", 1}, {"_miroir_shard", ")"}, {"_rankingScore", 0.9}}}, 7),
        node_answer({{{"id", 2}, {"_formatted", {{"id", "2"}, {"_miroir_shard", "("}}}}}, 5),
        json()};  // a node that did not answer
    std::vector<json*> lists = {&answers[0]["hits"], &answers[1]["hits"]};
    SearchAsk ask;
    ask.offset = 1;
    ask.limit = 5;
    const auto out = search_answer(ask, answers, lists, {{0, 0}, {1, 0}}, 0, "uid-1");
    EXPECT_EQ(out["hits"], json::array({{{"id", 2}, {"_formatted", {{"id", "2"}}}}}));
    EXPECT_EQ(out["estimatedTotalHits"], 12);
    EXPECT_EQ(out["offset"], 1);
    EXPECT_EQ(out["query"], "glass");
    EXPECT_EQ(out["requestUid"], "uid-1");
    EXPECT_FALSE(out.contains("semanticHitCount"));
}

TEST(SearchAnswer, PagesAndDistinctValuesCountedOnce) {
    // two nodes hit "drama" (counted in the facet Miroir added): three values, not four
    std::vector<json> answers = {node_answer({}, 2, {{"genre", {{"drama", 1}, {"comedy", 1}}}}),
                                 node_answer({}, 2, {{"genre", {{"Drama", 1}, {"horror", 1}}}})};
    for (auto& a : answers) {
        a["totalHits"] = a["estimatedTotalHits"];
        a.erase("estimatedTotalHits");
    }
    std::vector<json*> lists = {&answers[0]["hits"], &answers[1]["hits"]};
    SearchAsk ask;
    ask.page_mode = true;
    ask.page = 1;
    ask.hits_per_page = 2;
    ask.distinct = "genre";
    ask.count_values = true;
    ask.facet_added = true;
    const auto out = search_answer(ask, answers, lists, {}, 0, "u");
    EXPECT_EQ(out["totalHits"], 3);
    EXPECT_EQ(out["totalPages"], 2);
    EXPECT_FALSE(out.contains("facetDistribution"));  // only Miroir asked for it
}

TEST(SearchAnswer, DuplicatesOfADistinctValueLeaveTheOrder) {
    const json a = json::array({{{"id", 1}, {"genre", "Drama"}}, {{"id", 2}, {"genre", "x"}}});
    const json b = json::array({{{"id", 3}, {"genre", "drama "}}, {{"id", 4}}});
    std::uint64_t dropped = 0;
    const Order kept =
        without_duplicates({&a, &b}, {{0, 0}, {1, 0}, {0, 1}, {1, 1}}, "genre", dropped);
    EXPECT_EQ(kept, (Order{{0, 0}, {0, 1}, {1, 1}}));
    EXPECT_EQ(dropped, 1u);
}

}  // namespace
}  // namespace miroir::merge
