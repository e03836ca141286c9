// The `_miroir_shard` field's stored form: text no tokenizer turns into a word.
#include <algorithm>
#include <cctype>
#include <string>

#include <gtest/gtest.h>

#include <miroir/routing/shard_field.hpp>

namespace miroir::routing {
namespace {

TEST(ShardField, StoredShardsHoldNoWordCharacter) {
    for (std::uint32_t shard : {0u, 7u, 12u, 409u, 65535u}) {
        const auto value = shard_value(shard);
        EXPECT_EQ(value.size(), std::to_string(shard).size());
        // letters and digits are what tokenizers turn into words
        EXPECT_TRUE(std::none_of(value.begin(), value.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c));
        })) << value;
        EXPECT_EQ(shard_of_value(value), shard);
        EXPECT_EQ(shard_of_value(std::to_string(shard)), shard);  // as stored before
    }
    EXPECT_EQ(shard_value(12), ")[");
    EXPECT_EQ(shard_of_value(""), std::nullopt);
    EXPECT_EQ(shard_of_value("1a"), std::nullopt);
    EXPECT_EQ(shard_of_value("(x"), std::nullopt);
    EXPECT_EQ(shard_filter({3, 12}), R"(_miroir_shard IN [3, "]", 12, ")["])");
}

TEST(OrdField, PlacesRoundTripAndHoldNoWordCharacter) {
    const Ord ord{1796000000123456, 42};
    const auto value = ord_value(ord);
    EXPECT_EQ(value.size(), 16u + 2u);
    EXPECT_TRUE(std::none_of(value.begin(), value.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c));
    })) << value;
    EXPECT_EQ(ord_of_value(value), ord);
    // a short stamp is padded, so the position still starts after 16 characters
    EXPECT_EQ(ord_of_value(ord_value({5, 0})), (Ord{5, 0}));
    EXPECT_EQ(ord_of_value(ord_value({5, 123456789})), (Ord{5, 123456789}));
    EXPECT_EQ(ord_of_value(""), std::nullopt);
    EXPECT_EQ(ord_of_value(ord_value({5, 0}).substr(0, 16)), std::nullopt);  // no position
    EXPECT_EQ(ord_of_value("1796000000123456"
                           "1"),
              std::nullopt);  // digits are not its form
}

TEST(OrdField, PlacesOrderByStampThenPosition) {
    EXPECT_LT((Ord{1, 900}), (Ord{2, 0}));
    EXPECT_LT((Ord{2, 9}), (Ord{2, 10}));
    const auto first = next_stamp();
    const auto second = next_stamp();
    EXPECT_LT(first, second);  // strictly increasing, however close the calls
}

}  // namespace
}  // namespace miroir::routing
