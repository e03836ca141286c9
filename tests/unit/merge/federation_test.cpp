// The federated merge of hits: weighted scores across queries, sort values in their direction,
// a document two queries of one index found kept once, the window, `_federation`.
#include <gtest/gtest.h>

#include <miroir/merge/federation.hpp>

namespace {

using json = nlohmann::ordered_json;
using miroir::merge::federated_hits;
using miroir::merge::FederatedQuery;

json hit(int id, double score, json details = json::object()) {
    if (details.empty()) details["words"] = json{{"order", 0}, {"score", score}};
    return json{{"id", id}, {"_rankingScore", score}, {"_rankingScoreDetails", details}};
}

FederatedQuery query(std::string uid, double weight) {
    FederatedQuery q;
    q.uid = std::move(uid);
    q.weight = weight;
    q.primary_key = "id";
    return q;
}

std::vector<int> ids(const json& hits) {
    std::vector<int> out;
    for (const auto& h : hits) out.push_back(h["id"].get<int>());
    return out;
}

TEST(FederatedHits, WeightedScoresOrderTheQueriesHits) {
    std::vector<FederatedQuery> queries = {query("a", 1.0), query("b", 2.0)};
    std::vector<json> results = {json{{"hits", {hit(1, 0.9), hit(2, 0.5)}}},
                                 json{{"hits", {hit(3, 0.4), hit(4, 0.2)}}}};
    const auto hits = federated_hits(queries, results, 0, 10);
    // b's 0.4 × 2 = 0.8 comes between a's 0.9 and a's 0.5; b's 0.2 × 2 = 0.4 last
    EXPECT_EQ(ids(hits), (std::vector<int>{1, 3, 2, 4}));
    EXPECT_EQ(hits[1]["_federation"]["indexUid"], "b");
    EXPECT_EQ(hits[1]["_federation"]["queriesPosition"], 1);
    EXPECT_DOUBLE_EQ(hits[1]["_federation"]["weightedRankingScore"].get<double>(), 0.8);
    // scores and details were asked only for the merge: not shown
    EXPECT_FALSE(hits[0].contains("_rankingScore"));
    EXPECT_FALSE(hits[0].contains("_rankingScoreDetails"));
}

TEST(FederatedHits, ADocumentOfOneIndexIsKeptOnceAndTheWindowCuts) {
    std::vector<FederatedQuery> queries = {query("a", 1.0), query("a", 1.0), query("c", 1.0)};
    queries[0].show_score = true;
    std::vector<json> results = {json{{"hits", {hit(1, 0.9), hit(2, 0.3)}}},
                                 json{{"hits", {hit(1, 0.8), hit(5, 0.7)}}},
                                 json{{"hits", {hit(1, 0.6)}}}};
    // a:1 (query 0), a:5, c:1 (another index: kept), a:2; a:1 of query 1 dropped
    const auto all = federated_hits(queries, results, 0, 10);
    EXPECT_EQ(ids(all), (std::vector<int>{1, 5, 1, 2}));
    EXPECT_EQ(all[0]["_federation"]["queriesPosition"], 0);
    EXPECT_DOUBLE_EQ(all[0]["_rankingScore"].get<double>(), 0.9);
    EXPECT_EQ(all[2]["_federation"]["indexUid"], "c");

    std::vector<json> again = {json{{"hits", {hit(1, 0.9), hit(2, 0.3)}}},
                               json{{"hits", {hit(1, 0.8), hit(5, 0.7)}}},
                               json{{"hits", {hit(1, 0.6)}}}};
    const auto window = federated_hits(queries, again, 1, 2);
    EXPECT_EQ(ids(window), (std::vector<int>{5, 1}));
}

TEST(FederatedHits, SortValuesCompareInTheirDirection) {
    auto sorted = [](int id, double price) {
        json details;
        details["price:asc"] = json{{"order", 0}, {"value", price}};
        return hit(id, 1.0, details);
    };
    std::vector<FederatedQuery> queries = {query("a", 1.0), query("b", 1.0)};
    std::vector<json> results = {json{{"hits", {sorted(1, 5), sorted(2, 30)}}},
                                 json{{"hits", {sorted(3, 10), sorted(4, 40)}}}};
    EXPECT_EQ(ids(federated_hits(queries, results, 0, 10)), (std::vector<int>{1, 3, 2, 4}));
}

}  // namespace
