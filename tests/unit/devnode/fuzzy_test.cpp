// The development node's dictionary walk must find exactly the words, with exactly the typos,
// that matching each word on its own finds.
#include "fuzzy.hpp"

#include <random>
#include <set>

#include <gtest/gtest.h>

namespace devnode {
namespace {

std::string random_word(std::mt19937& rng, int max_length) {
    // a small alphabet, so that many words fall within one or two typos of each other
    static constexpr std::string_view kLetters = "abcde";
    std::string word;
    const int length = 1 + static_cast<int>(rng() % static_cast<unsigned>(max_length));
    for (int i = 0; i < length; ++i) word += kLetters[rng() % kLetters.size()];
    return word;
}

TEST(Fuzzy, DistanceCountsATranspositionAsOneTypo) {
    EXPECT_EQ(distance("search", "search", 2), 0);
    EXPECT_EQ(distance("serach", "search", 2), 1);
    EXPECT_EQ(distance("seach", "search", 2), 1);
    EXPECT_EQ(distance("sxarcx", "search", 2), 2);
    EXPECT_EQ(distance("xyz", "search", 2), 3);  // above the bound: bound + 1
}

TEST(Fuzzy, MatchWordHonoursPrefixAndAllowedTypos) {
    Term exact{"linux", false, 0};
    EXPECT_EQ(match_word(exact, "linux"), 0);
    EXPECT_EQ(match_word(exact, "linuxes"), -1);
    EXPECT_EQ(match_word(exact, "linus"), -1);
    Term prefix{"linu", true, 1};
    EXPECT_EQ(match_word(prefix, "linux"), 0);
    EXPECT_EQ(match_word(prefix, "lniux"), 1);  // its first four letters are one typo away
    EXPECT_EQ(match_word(prefix, "lxnxx"), -1);
}

TEST(Fuzzy, DictionaryWalkAgreesWithMatchingEachWord) {
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        std::set<std::string> words;
        for (int n = 0; n < 300; ++n) words.insert(random_word(rng, 10));
        Lexicon dict;
        for (const auto& w : words) dict.push_back(w);
        for (int q = 0; q < 20; ++q) {
            Term t{random_word(rng, 8), rng() % 2 == 0, static_cast<int>(rng() % 3)};
            std::vector<int> found(dict.size(), -1);
            match_dictionary(t, dict, [&](std::uint32_t id, int typos) {
                ASSERT_EQ(found[id], -1) << "emitted twice: " << dict[id];
                found[id] = typos;
            });
            for (std::size_t i = 0; i < dict.size(); ++i) {
                ASSERT_EQ(found[i], match_word(t, dict[i]))
                    << "term " << t.word << (t.prefix ? " (prefix)" : "") << ", " << t.allowed_typos
                    << " typos allowed, word " << dict[i];
            }
        }
    }
}

}  // namespace
}  // namespace devnode
