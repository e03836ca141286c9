// The typo rule of the whole index from the nodes' hits.
#include <gtest/gtest.h>

#include <miroir/merge/typo.hpp>

namespace miroir::merge {
namespace {

using json = nlohmann::ordered_json;

// Meilisearch's score of words (rw of mw), typo (typos of max), proximity (rp of mp).
double meili_score(double rw, double mw, double typos, double max_typo, double rp, double mp) {
    const double mt = max_typo + 1;
    return fold_rank(rw, mw, fold_rank(mt - typos, mt, fold_rank(rp, mp, 1.0)));
}

json hit(int words, int typos, int max_typo, double rp, double mp) {
    json details;
    details["words"] = {{"order", 0}, {"matchingWords", words}, {"maxMatchingWords", 2}};
    details["typo"] = {{"order", 1},
                       {"typoCount", typos},
                       {"maxTypoCount", max_typo},
                       {"score", (max_typo + 1.0 - typos) / (max_typo + 1.0)}};
    details["proximity"] = {{"order", 2}, {"score", rp / mp}};
    return {{"_rankingScore", meili_score(words, 2, typos, max_typo, rp, mp)},
            {"_rankingScoreDetails", details}};
}

TEST(NormalizeTypo, FoldRankIsMeilisearchsGlobalScore) {
    // Rank::global_score of words 2/2, typo 2/3, proximity 6/7 folds to (7*... ) exactly
    const double s = fold_rank(2, 2, fold_rank(2, 3, fold_rank(6, 7, 1.0)));
    // merged ranks: (2-1)*3+2 = 5 of 6, then (5-1)*7+6 = 34 of 42
    EXPECT_DOUBLE_EQ(s, 34.0 / 42.0);
}

TEST(NormalizeTypo, TheLargestMaximumOfTheBucketScoresEveryHit) {
    // node A holds two-typo variants of the words (max 2), node B only one-typo ones (max 1)
    json a = json::array({hit(2, 0, 2, 7, 7), hit(2, 1, 2, 5, 7)});
    json b = json::array({hit(2, 1, 1, 6, 7), hit(1, 1, 1, 7, 7)});
    normalize_typo({&a, &b});
    const json& moved = b[0];
    EXPECT_EQ(moved["_rankingScoreDetails"]["typo"]["maxTypoCount"], 2);
    EXPECT_DOUBLE_EQ(moved["_rankingScoreDetails"]["typo"]["score"].get<double>(), 2.0 / 3);
    EXPECT_NEAR(moved["_rankingScore"].get<double>(), meili_score(2, 2, 1, 2, 6, 7), 1e-12);
    // A's hits already had the whole maximum; B's one-word hit is alone in its bucket
    EXPECT_EQ(a[1], hit(2, 1, 2, 5, 7));
    EXPECT_EQ(b[1], hit(1, 1, 1, 7, 7));
}

TEST(NormalizeTypo, ScoreKeptWhenAnotherRuleComesBeforeTypo) {
    json h = hit(2, 1, 1, 6, 7);
    json details;
    details["proximity"] = {{"order", 0}, {"score", 1.0}};
    details["typo"] = h["_rankingScoreDetails"]["typo"];
    details["typo"]["order"] = 1;
    h["_rankingScoreDetails"] = details;
    json other = hit(2, 0, 2, 7, 7);
    other["_rankingScoreDetails"].erase("words");
    json a = json::array({h});
    json b = json::array({other});
    const double before = h["_rankingScore"].get<double>();
    normalize_typo({&a, &b});
    EXPECT_EQ(a[0]["_rankingScoreDetails"]["typo"]["maxTypoCount"], 2);
    EXPECT_DOUBLE_EQ(a[0]["_rankingScore"].get<double>(), before);
}

}  // namespace
}  // namespace miroir::merge
