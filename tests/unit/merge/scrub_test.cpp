// Miroir's fields cut out of a node's search answer, every other byte kept.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <miroir/merge/scrub.hpp>

namespace miroir::merge {
namespace {

std::string scrub(const std::string& answer) {
    auto out = scrub_search_answer(answer, "_miroir_");
    EXPECT_TRUE(out.has_value()) << answer;
    return out.value_or("");
}

TEST(Scrub, CutsTheFieldWhereverItStandsInAHit) {
    EXPECT_EQ(scrub(R"({"hits":[{"_miroir_shard":3,"id":1,"name":"a"}],"query":""})"),
              R"({"hits":[{"id":1,"name":"a"}],"query":""})");
    EXPECT_EQ(scrub(R"({"hits":[{"id":1,"_miroir_shard":3,"name":"a"}]})"),
              R"({"hits":[{"id":1,"name":"a"}]})");
    EXPECT_EQ(scrub(R"({"hits":[{"id":1,"name":"a","_miroir_shard":3}]})"),
              R"({"hits":[{"id":1,"name":"a"}]})");
    EXPECT_EQ(scrub(R"({"hits":[{"_miroir_shard":3}]})"), R"({"hits":[{}]})");
}

TEST(Scrub, CutsSeveralFieldsInARowAndKeepsTheSeparators) {
    EXPECT_EQ(scrub(R"({"hits":[{"_miroir_a":1,"_miroir_b":[1,2],"id":1}]})"),
              R"({"hits":[{"id":1}]})");
    EXPECT_EQ(scrub(R"({"hits":[{"id":1,"_miroir_a":{"x":[1,{"y":2}]},"_miroir_b":"s"}]})"),
              R"({"hits":[{"id":1}]})");
    EXPECT_EQ(scrub(R"({"hits":[{"id":1,"_miroir_a":1,"n":2,"_miroir_b":null,"m":3}]})"),
              R"({"hits":[{"id":1,"n":2,"m":3}]})");
}

TEST(Scrub, WalksFormattedAndFacetsButNotOtherValues) {
    const std::string answer =
        R"({"hits":[{"id":1,"_miroir_shard":2,"meta":{"_miroir_shard":5},)"
        R"("_formatted":{"id":"1","_miroir_shard":"2"}}],)"
        R"("facetDistribution":{"_miroir_shard":{"2":1},"genre":{"a":1}},)"
        R"("facetStats":{"_miroir_shard":{"min":2,"max":2}},"query":"_miroir_shard"})";
    EXPECT_EQ(scrub(answer),
              R"({"hits":[{"id":1,"meta":{"_miroir_shard":5},"_formatted":{"id":"1"}}],)"
              R"("facetDistribution":{"genre":{"a":1}},"facetStats":{},"query":"_miroir_shard"})");
}

TEST(Scrub, LeavesAnAnswerWithoutTheFieldByteForByte) {
    const std::string answer =
        "{ \"hits\" : [ { \"id\" : 1 , \"title\" : \"caf\\u00e9 \\\"x\\\"\" } ] ,\n"
        "  \"estimatedTotalHits\" : 1 }";
    EXPECT_EQ(scrub(answer), answer);
}

TEST(Scrub, HandlesWhitespaceAroundWhatItCuts) {
    const std::string answer =
        "{\"hits\": [ {\"_miroir_shard\" : 1 , \"id\": 1}, {\"id\": 2 , \"_miroir_shard\": 1 } ]}";
    const auto out = scrub(answer);
    EXPECT_EQ(nlohmann::json::parse(out), nlohmann::json::parse(R"({"hits":[{"id":1},{"id":2}]})"));
}

TEST(Scrub, RefusesWhatIsNotAJsonObject) {
    EXPECT_FALSE(scrub_search_answer("[1,2]", "_miroir_"));
    EXPECT_FALSE(scrub_search_answer("{\"hits\":[{\"id\":1,}]}", "_miroir_"));
    EXPECT_FALSE(scrub_search_answer("", "_miroir_"));
}

}  // namespace
}  // namespace miroir::merge
