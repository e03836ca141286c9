// When `matchingStrategy: frequency` drops a query's words as `last` does.
#include <gtest/gtest.h>

#include <miroir/merge/frequency.hpp>

namespace miroir::merge {
namespace {

using Words = std::vector<std::string>;

TEST(PlainWords, WordsOfLettersOrDigits) {
    EXPECT_EQ(plain_words("french book"), (Words{"french", "book"}));
    EXPECT_EQ(plain_words("  Saint  Exupéry 1943 "), (Words{"Saint", "Exupéry", "1943"}));
}

TEST(PlainWords, RefusesWhatANodeSplitsOtherwise) {
    EXPECT_TRUE(plain_words("book").empty());                   // nothing to drop
    EXPECT_TRUE(plain_words("\"french book\"").empty());        // a phrase
    EXPECT_TRUE(plain_words("french -book").empty());           // a negated word
    EXPECT_TRUE(plain_words("c++ book").empty());               // punctuation
    EXPECT_TRUE(plain_words("book2 french").empty());           // letters and digits mixed
    EXPECT_TRUE(plain_words("東京 book").empty());              // another script
    EXPECT_TRUE(plain_words("a×b c").empty());                  // a Latin-1 sign
    EXPECT_TRUE(plain_words("a b c d e f g h i j k").empty());  // more than 10 words
    EXPECT_EQ(plain_words("a b c d e f g h i j").size(), 10u);
}

TEST(FrequencyProbes, WordsThenConcatenations) {
    EXPECT_EQ(frequency_probes({"a", "b", "c"}, true),
              (Words{"a ", "b ", "c", "-\"a b\" ab ", "-\"b c\" bc", "abc"}));
    EXPECT_EQ(frequency_probes({"a", "b"}, false), (Words{"a ", "b ", "-\"a b\" ab "}));
}

TEST(FrequencyDropsAsLast, CountsRisingStrictly) {
    // french (2 documents), book (6), frenchbook (none)
    EXPECT_TRUE(frequency_drops_as_last({2, 6, 0}, 2));
    EXPECT_FALSE(frequency_drops_as_last({6, 2, 0}, 2));  // book first: dropped first
    EXPECT_FALSE(frequency_drops_as_last({2, 2, 0}, 2));  // equal: dropped together
    EXPECT_FALSE(frequency_drops_as_last({2, 6, 1}, 2));  // a concatenation counts too
}

TEST(FrequencyDropsAsLast, AWordNoDocumentHoldsCountsAsTheMost) {
    EXPECT_TRUE(frequency_drops_as_last({3, 0, 0}, 2));
    EXPECT_FALSE(frequency_drops_as_last({0, 3, 0}, 2));
    EXPECT_FALSE(frequency_drops_as_last({0, 0, 0}, 2));
    EXPECT_TRUE(frequency_drops_as_last({1, 2, 0, 0, 0, 0}, 3));
}

}  // namespace
}  // namespace miroir::merge
