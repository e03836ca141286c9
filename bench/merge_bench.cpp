// The search merge's CPU cost: ranking keys from the details of every node's hits, then one
// order over all of them (what src/api/search.cpp does per query).
#include <algorithm>
#include <array>
#include <random>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <miroir/merge/order.hpp>

namespace {

using json = nlohmann::ordered_json;

// `nodes` answers of `per_node` hits with default-rule details (and a sort rule when asked).
std::vector<json> answers(int nodes, int per_node, bool sorted) {
    std::mt19937 rng(7);
    std::vector<json> out;
    for (int n = 0; n < nodes; ++n) {
        json hits = json::array();
        for (int i = 0; i < per_node; ++i) {
            json details;
            int order = 0;
            if (sorted) details["year:desc"] = {{"order", order++}, {"value", 1990 + rng() % 30}};
            details["words"] = {{"order", order++},
                                {"matchingWords", 1 + rng() % 3},
                                {"maxMatchingWords", 3},
                                {"score", 0.5}};
            details["typo"] = {
                {"order", order++}, {"typoCount", rng() % 2}, {"maxTypoCount", 1}, {"score", 0.5}};
            details["proximity"] = {{"order", order++}, {"score", (rng() % 8) / 8.0}};
            details["attributeRank"] = {{"order", order++}, {"score", (rng() % 3) / 3.0}};
            details["wordPosition"] = {{"order", order++}, {"score", (rng() % 20) / 20.0}};
            details["exactness"] = {{"order", order++},
                                    {"matchType", "noExactMatch"},
                                    {"matchingWords", rng() % 3},
                                    {"maxMatchingWords", 3},
                                    {"score", 0.3}};
            hits.push_back({{"id", n * per_node + i},
                            {"_rankingScore", (rng() % 1000) / 1000.0},
                            {"_rankingScoreDetails", std::move(details)}});
        }
        out.push_back(std::move(hits));
    }
    return out;
}

void BM_Merge(benchmark::State& state) {
    const auto nodes = static_cast<int>(state.range(0));
    const auto per_node = static_cast<int>(state.range(1));
    const auto input = answers(nodes, per_node, state.range(2) != 0);
    for (auto _ : state) {
        std::vector<std::pair<miroir::merge::RankKey, const json*>> keyed;
        keyed.reserve(static_cast<std::size_t>(nodes * per_node));
        for (const auto& node : input) {
            for (const auto& hit : node) keyed.emplace_back(miroir::merge::rank_key(hit), &hit);
        }
        std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
            return miroir::merge::compare(a.first, b.first) < 0;
        });
        benchmark::DoNotOptimize(keyed.front().second);
    }
    state.SetItemsProcessed(state.iterations() * nodes * per_node);
}

// What a search does: each answer is already in rank order (a node's is), so a k-way merge
// that stops at the window's end (here: as many hits as one answer holds).
void BM_MergeOrdered(benchmark::State& state) {
    const auto nodes = static_cast<int>(state.range(0));
    const auto per_node = static_cast<int>(state.range(1));
    auto input = answers(nodes, per_node, state.range(2) != 0);
    for (auto& node : input) {
        std::stable_sort(node.begin(), node.end(), [](const json& a, const json& b) {
            return miroir::merge::compare(miroir::merge::rank_key(a), miroir::merge::rank_key(b)) <
                   0;
        });
    }
    std::vector<const json*> lists;
    for (const auto& node : input) lists.push_back(&node);
    for (auto _ : state) {
        auto merged = miroir::merge::merge_ordered(lists, static_cast<std::size_t>(per_node));
        benchmark::DoNotOptimize(merged.data());
    }
    state.SetItemsProcessed(state.iterations() * nodes * per_node);
}

}  // namespace

// 3 to 64 answers of 20 to 1000 hits, with and without a sort rule.
void shapes(benchmark::internal::Benchmark* b) {
    b->ArgNames({"nodes", "hits", "sort"});
    for (const auto& [nodes, hits, sort] :
         {std::array{3, 20, 0}, std::array{3, 1000, 0}, std::array{64, 20, 0},
          std::array{64, 100, 0}, std::array{64, 100, 1}, std::array{64, 1000, 0}}) {
        b->Args({nodes, hits, sort});
    }
    b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_Merge)->Apply(shapes);
BENCHMARK(BM_MergeOrdered)->Apply(shapes);
