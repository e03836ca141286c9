// Shard routing: the shard of 10k document ids, and the owners of every shard.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <miroir/routing/placement.hpp>

namespace {

void BM_ShardOf10kKeys(benchmark::State& state) {
    std::vector<std::string> keys;
    for (int i = 0; i < 10000; ++i) keys.push_back("doc-" + std::to_string(i * 7919));
    const auto shards = static_cast<std::uint32_t>(state.range(0));
    for (auto _ : state) {
        std::uint32_t sum = 0;
        for (const auto& k : keys) sum += miroir::routing::shard_of(k, shards);
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(keys.size()));
}

void BM_OwnersOfEveryShard(benchmark::State& state) {
    std::vector<std::string> nodes;
    for (int i = 0; i < state.range(0); ++i) nodes.push_back("meili-" + std::to_string(i));
    for (auto _ : state) {
        std::size_t total = 0;
        for (std::uint32_t s = 0; s < 64; ++s) total += miroir::routing::owners(s, nodes, 2).size();
        benchmark::DoNotOptimize(total);
    }
}

}  // namespace

BENCHMARK(BM_ShardOf10kKeys)->Arg(64)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OwnersOfEveryShard)->Arg(3)->Arg(12)->Unit(benchmark::kMicrosecond);
