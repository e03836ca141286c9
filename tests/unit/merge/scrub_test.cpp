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

TEST(ScrubErrorMessage, ReservedNamesLeaveMeilisearchsAttributeLists) {
    auto clean = [](const char* m) { return scrub_error_message(m, "_miroir_"); };
    // one backquoted list, as Meilisearch 1.50 writes it
    EXPECT_EQ(clean("Invalid facet distribution: Pattern `color` is not filterable. Available "
                    "filterable attributes patterns are: `_miroir_shard, genre, price`."),
              "Invalid facet distribution: Pattern `color` is not filterable. Available filterable "
              "attributes patterns are: `genre, price`.");
    EXPECT_EQ(
        clean("Attribute `x` is not filterable. Available filterable attributes patterns "
              "are: `a, _miroir_shard`."),
        "Attribute `x` is not filterable. Available filterable attributes patterns are: `a`.");
    // only Miroir's: the sentence of an index without such attributes
    EXPECT_EQ(clean("Invalid facet distribution: Pattern `color` is not filterable. Available "
                    "filterable attributes patterns are: `_miroir_shard`."),
              "Invalid facet distribution: Pattern `color` is not filterable. This index does not "
              "have configured filterable attributes.");
    EXPECT_EQ(clean("Attribute `genre` is not facet-searchable. Available facet-searchable "
                    "attributes patterns are: `_miroir_shard`. To make it facet-searchable add it "
                    "to the `filterableAttributes` index settings."),
              "Attribute `genre` is not facet-searchable. This index does not have configured "
              "facet-searchable attributes. To make it facet-searchable add it to the "
              "`filterableAttributes` index settings.");
    // names quoted one by one, as the filter error lists them
    EXPECT_EQ(clean("Attribute `x` is not filterable. Available filterable attribute patterns "
                    "are: `_miroir_shard`, `genre`.\n1:2 x = 1"),
              "Attribute `x` is not filterable. Available filterable attribute patterns are: "
              "`genre`.\n1:2 x = 1");
    EXPECT_EQ(clean("Attribute `x` is not filterable. Available filterable attribute patterns "
                    "are: `_miroir_shard`.\n1:2 x = 1"),
              "Attribute `x` is not filterable. This index does not have configured filterable "
              "attributes.\n1:2 x = 1");
    EXPECT_EQ(clean("Available are: `a`, `_miroir_shard`, `b`."), "Available are: `a`, `b`.");
    EXPECT_EQ(clean("Available are: `_miroir_shard`, `b`."), "Available are: `b`.");
    // nothing reserved: unchanged
    EXPECT_EQ(clean("Attribute `x` is not sortable."), "Attribute `x` is not sortable.");
}

}  // namespace
}  // namespace miroir::merge
