#include <gtest/gtest.h>

#include <miroir/util/uuid.hpp>

using miroir::util::parse_uuid;

TEST(ParseUuid, ReadsEveryFormMeilisearchReads) {
    const std::string want = "0195f5e0-0000-7000-8000-00000000abcd";
    for (const char* text :
         {"0195f5e0-0000-7000-8000-00000000abcd", "0195F5E0-0000-7000-8000-00000000ABCD",
          "0195f5e000007000800000000000abcd", "{0195f5e0-0000-7000-8000-00000000abcd}",
          "urn:uuid:0195f5e0-0000-7000-8000-00000000abcd"}) {
        const auto parsed = parse_uuid(text);
        EXPECT_EQ(parsed.uuid, want) << text;
        EXPECT_EQ(parsed.error, "") << text;
    }
}

TEST(ParseUuid, ExplainsAsRustsUuidCrate) {
    EXPECT_EQ(parse_uuid("").error, "invalid length: found 0");
    EXPECT_EQ(parse_uuid("abc").error, "invalid length: found 3");
    EXPECT_EQ(parse_uuid("zzzz").error, "invalid character: found `z` at 0");
    EXPECT_EQ(parse_uuid("0195f5e0-0000-7000-8000_000000000000").error,
              "invalid character: found `_` at 23");
    EXPECT_EQ(parse_uuid("0195f5e0-0000-7000-8000-00000000000").error,
              "invalid group length in group 4: expected 12, found 11");
    EXPECT_EQ(parse_uuid("0195f5e-00000-7000-8000-000000000000").error,
              "invalid group length in group 0: expected 8, found 7");
    EXPECT_EQ(parse_uuid("0195f5e0-0000-7000-8000-0000000000000-").error,
              "invalid group count: expected 5, found 6");
    EXPECT_EQ(parse_uuid("{abc}").error, "invalid group count: expected 5, found 1");
    EXPECT_EQ(parse_uuid(std::string(46, 'a')).error, "invalid length: found 46");
    EXPECT_EQ(parse_uuid("é").error, "invalid character: found `é` at 0");
}
