// The development node's typo-tolerant matching: one query term against a 50,000-word sorted
// dictionary, walked like a trie (match_dictionary) against the baseline of computing each
// word's distance on its own (match_word), for terms allowing 0, 1 and 2 typos.
#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "fuzzy.hpp"

namespace {

using devnode::Lexicon;
using devnode::Term;

// Words of 2–12 lowercase letters, letters drawn with English-like frequencies, sorted.
const std::vector<std::string>& words() {
    static const std::vector<std::string> out = [] {
        static constexpr std::string_view kLetters =
            "eeeeeeeeaaaaaaiiiiiioooooonnnnnsssss"
            "rrrrrtttttllllcccuuuddpmmhggbbfyywkvxzjq";
        std::mt19937 rng(42);
        std::set<std::string> unique;
        while (unique.size() < 50000) {
            std::string w;
            const int length = 2 + static_cast<int>(rng() % 11);
            for (int i = 0; i < length; ++i) w += kLetters[rng() % kLetters.size()];
            unique.insert(w);
        }
        return std::vector<std::string>(unique.begin(), unique.end());
    }();
    return out;
}

const Lexicon& lexicon() {
    static const Lexicon out = [] {
        Lexicon l;
        for (const auto& w : words()) l.push_back(w);
        return l;
    }();
    return out;
}

// The term for a benchmark argument: 0, 1 or 2 typos allowed (words of 4, 6 and 9 letters,
// as Meilisearch's defaults allow), the last query word (a prefix) when range(1) is 1.
Term term(const benchmark::State& state) {
    static const char* const kWords[] = {"line", "search", "interface"};
    const auto typos = static_cast<int>(state.range(0));
    return Term{kWords[typos], state.range(1) == 1, typos};
}

void BM_MatchEachWord(benchmark::State& state) {
    const Term t = term(state);
    for (auto _ : state) {
        std::size_t found = 0;
        for (const auto& w : words()) found += devnode::match_word(t, w) >= 0;
        benchmark::DoNotOptimize(found);
    }
}

void BM_WalkDictionary(benchmark::State& state) {
    const Term t = term(state);
    for (auto _ : state) {
        std::size_t found = 0;
        devnode::match_dictionary(t, lexicon(), [&found](std::uint32_t, int) { ++found; });
        benchmark::DoNotOptimize(found);
    }
}

}  // namespace

BENCHMARK(BM_MatchEachWord)
    ->ArgsProduct({{0, 1, 2}, {0, 1}})
    ->ArgNames({"typos", "prefix"})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WalkDictionary)
    ->ArgsProduct({{0, 1, 2}, {0, 1}})
    ->ArgNames({"typos", "prefix"})
    ->Unit(benchmark::kMicrosecond);
