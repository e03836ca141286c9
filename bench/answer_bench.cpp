// What Miroir does to the nodes' answers besides ordering hits: cutting its own fields out of a
// whole answer (bytes, simdjson) against parsing and writing it again (nlohmann DOM, the way a
// merged answer is built), and summing facet distributions from several nodes.
#include <random>
#include <string>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <miroir/merge/facets.hpp>
#include <miroir/merge/scrub.hpp>

namespace {

using json = nlohmann::ordered_json;

constexpr const char* kWords[] = {"library", "tool",   "python", "daemon", "kernel", "network",
                                  "utility", "server", "client", "data",   "image",  "audio"};

// A node's search answer of `hits` package-like documents (about 200 bytes each), each with
// Miroir's shard field, as a node writes it.
std::string answer(int hits) {
    std::mt19937 rng(3);
    auto word = [&rng] { return std::string(kWords[rng() % std::size(kWords)]); };
    json out;
    out["hits"] = json::array();
    for (int i = 0; i < hits; ++i) {
        out["hits"].push_back({{"_miroir_shard", rng() % 64},
                               {"name", word() + "-" + word()},
                               {"summary", word() + " " + word() + " for " + word() + " " + word()},
                               {"section", "utils"},
                               {"priority", "optional"},
                               {"tags", {"role::program", "scope::utility", "use::" + word()}},
                               {"installed_size_kb", rng() % 10000},
                               {"id", i}});
    }
    out["query"] = "library tool";
    out["processingTimeMs"] = 3;
    out["limit"] = hits;
    out["offset"] = 0;
    out["estimatedTotalHits"] = 1000;
    out["requestUid"] = "0194d3a2-0000-7000-8000-000000000000";
    return out.dump();
}

void BM_ScrubAnswer(benchmark::State& state) {
    const auto body = answer(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        auto out = miroir::merge::scrub_search_answer(body, "_miroir_");
        benchmark::DoNotOptimize(out->data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_ParseStripDumpAnswer(benchmark::State& state) {
    const auto body = answer(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        auto doc = json::parse(body);
        for (auto& hit : doc["hits"]) hit.erase("_miroir_shard");
        auto out = doc.dump();
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

// `nodes` facet distributions of `fields` fields with `values` values each (most values seen
// by every node, as shards of one index see them).
void BM_MergeFacets(benchmark::State& state) {
    const auto nodes = static_cast<int>(state.range(0));
    const auto values = static_cast<int>(state.range(1));
    std::mt19937 rng(5);
    std::vector<json> parts;
    for (int n = 0; n < nodes; ++n) {
        json dist;
        for (const char* field : {"section", "priority", "tags"}) {
            json counts = json::object();
            for (int v = 0; v < values; ++v) {
                if (rng() % 8 == 0) continue;
                counts[std::string(field) + "-" + std::to_string(v)] = 1 + rng() % 500;
            }
            dist[field] = std::move(counts);
        }
        parts.push_back(std::move(dist));
    }
    std::vector<const json*> views;
    for (const auto& p : parts) views.push_back(&p);
    const json faceting = {{"maxValuesPerFacet", 100}, {"sortFacetValuesBy", {{"*", "alpha"}}}};
    for (auto _ : state) {
        auto merged = miroir::merge::merge_facets(views, faceting,
                                                  miroir::merge::AlphaOrder::numbers_by_value);
        benchmark::DoNotOptimize(merged.size());
    }
    state.SetItemsProcessed(state.iterations() * nodes * values * 3);
}

}  // namespace

BENCHMARK(BM_ScrubAnswer)->Arg(20)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ParseStripDumpAnswer)->Arg(20)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MergeFacets)
    ->ArgNames({"nodes", "values"})
    ->Args({3, 20})
    ->Args({3, 1000})
    ->Args({64, 100})
    ->Unit(benchmark::kMicrosecond);
