// The write path's CPU cost: splitting a batch of ~1 KB documents and routing each to its shard.
#include <random>
#include <string>

#include <benchmark/benchmark.h>

#include <miroir/ingest/splitter.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/routing/shard_field.hpp>

namespace {

// `count` documents of about 1 KB: an id, a title, a text body, numbers, tags, a nested object.
std::string make_batch(std::size_t count, bool ndjson) {
    std::mt19937 rng(42);
    const char* words[] = {"search",  "engine",  "shard",  "replica", "debian", "package",
                           "library", "network", "kernel", "python",  "daemon", "utility"};
    std::string out = ndjson ? "" : "[";
    for (std::size_t i = 0; i < count; ++i) {
        if (!ndjson && i) out += ",";
        out += "{\"id\":" + std::to_string(i) + ",\"title\":\"";
        for (int w = 0; w < 4; ++w) out += std::string(words[rng() % 12]) + " ";
        out += "\",\"description\":\"";
        while (out.size() % 1024 < 900) out += std::string(words[rng() % 12]) + " ";
        out += "\",\"size\":" + std::to_string(rng() % 100000) + ",\"score\":1.5";
        out += ",\"tags\":[\"a\",\"b\"],\"meta\":{\"arch\":\"amd64\",\"priority\":\"optional\"}}";
        if (ndjson) out += "\n";
    }
    return ndjson ? out : out + "]";
}

void split_batch(benchmark::State& state, miroir::ingest::Format format) {
    const auto body = make_batch(static_cast<std::size_t>(state.range(0)),
                                 format == miroir::ingest::Format::ndjson);
    for (auto _ : state) {
        std::string copy = body;
        auto split = miroir::ingest::split(copy, {format, ',', std::string("id")});
        benchmark::DoNotOptimize(split.documents.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_SplitJson(benchmark::State& state) { split_batch(state, miroir::ingest::Format::json); }
void BM_SplitNdjson(benchmark::State& state) { split_batch(state, miroir::ingest::Format::ndjson); }

// Split, hash every id to its shard and build the three payloads of a 3-node group, RF 1; with
// `places`, each document also gets its `_miroir_ord`, as the write path writes it.
void split_and_route(benchmark::State& state, bool places) {
    const auto body = make_batch(static_cast<std::size_t>(state.range(0)), false);
    const miroir::routing::GroupPlacement placement({"n0", "n1", "n2"}, 64, 1);
    for (auto _ : state) {
        std::string copy = body;
        auto split = miroir::ingest::split(copy, {miroir::ingest::Format::json, ',', "id"});
        std::string payloads[3] = {"[", "[", "["};
        miroir::routing::Ord ord{miroir::routing::next_stamp(), 0};
        for (const auto& doc : split.documents) {
            const auto shard = miroir::routing::shard_of(doc.id, 64);
            const auto& owner = placement.owners(shard).front();
            const auto place = places ? miroir::routing::ord_value(ord) : std::string();
            ++ord.position;
            miroir::ingest::append_json(payloads[owner.back() - '0'], doc, shard, place);
        }
        benchmark::DoNotOptimize(payloads[0].data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void BM_SplitAndRoute(benchmark::State& state) { split_and_route(state, true); }
// The same without places: the baseline of their cost.
void BM_SplitAndRouteWithoutPlaces(benchmark::State& state) { split_and_route(state, false); }

// Plain copy of the batch: the floor every variant above pays.
void BM_CopyBatch(benchmark::State& state) {
    const auto body = make_batch(static_cast<std::size_t>(state.range(0)), false);
    for (auto _ : state) {
        std::string copy = body;
        copy.reserve(copy.size() + 64);
        benchmark::DoNotOptimize(copy.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

}  // namespace

BENCHMARK(BM_CopyBatch)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SplitJson)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SplitNdjson)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SplitAndRoute)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SplitAndRouteWithoutPlaces)->Arg(10000)->Unit(benchmark::kMillisecond);
