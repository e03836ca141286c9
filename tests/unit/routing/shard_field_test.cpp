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

}  // namespace
}  // namespace miroir::routing
