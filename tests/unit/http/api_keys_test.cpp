#include <gtest/gtest.h>

#include <miroir/http/api_keys.hpp>

namespace miroir::http {
namespace {

TEST(ApiKeys, ValueIsTheHmacOfTheUidUnderTheMasterKey) {
    // the pair Meilisearch's own test suite uses
    EXPECT_EQ(derive_key("MASTER_KEY", "4bc0887a-0e41-4f3b-935d-0c451dcee9c8"),
              "d9e776b8412f1db6974c9a5556b961c3559440b6588216f4ea5d9ed49f7c8f3c");
    EXPECT_NE(derive_key("OTHER_KEY", "4bc0887a-0e41-4f3b-935d-0c451dcee9c8"),
              derive_key("MASTER_KEY", "4bc0887a-0e41-4f3b-935d-0c451dcee9c8"));
}

TEST(ApiKeys, ActionsExpandAsMeilisearchStoresThem) {
    EXPECT_TRUE(action_allows({"*"}, "keys.delete"));
    EXPECT_TRUE(action_allows({"search"}, "search"));
    EXPECT_FALSE(action_allows({"search"}, "documents.get"));
    EXPECT_TRUE(action_allows({"documents.*"}, "documents.add"));
    EXPECT_FALSE(action_allows({"documents.*"}, "indexes.get"));
    EXPECT_FALSE(action_allows({"doc.*"}, "documents.add"));
    // *.get: every read, search and version included, keys.get excluded
    for (const char* read : {"search", "documents.get", "indexes.get", "tasks.get", "settings.get",
                             "stats.get", "version"}) {
        EXPECT_TRUE(action_allows({"*.get"}, read)) << read;
    }
    for (const char* other : {"keys.get", "documents.add", "tasks.cancel", "dumps.create"}) {
        EXPECT_FALSE(action_allows({"*.get"}, other)) << other;
    }
    EXPECT_FALSE(action_allows({}, "search"));
}

TEST(ApiKeys, IndexPatterns) {
    EXPECT_TRUE(index_allows({"*"}, "anything"));
    EXPECT_TRUE(index_allows({"books"}, "books"));
    EXPECT_FALSE(index_allows({"books"}, "books-fr"));
    EXPECT_TRUE(index_allows({"books*"}, "books-fr"));
    EXPECT_TRUE(index_allows({"books*"}, "books"));
    EXPECT_FALSE(index_allows({"books*"}, "films"));
    EXPECT_FALSE(index_allows({"films", "books"}, ""));
}

}  // namespace
}  // namespace miroir::http

namespace miroir::http {
namespace {

TEST(HideSecret, KeepsAFewCharactersByLengthAsMeilisearch) {
    EXPECT_EQ(hide_secret("short"), "XXX...");
    EXPECT_EQ(hide_secret("abcdefghijklmnop"), "abXXXX...");               // 16
    EXPECT_EQ(hide_secret("sk-test-placeholder-api-key"), "sk-XXXXX...");  // 27
    EXPECT_EQ(hide_secret(std::string(40, 'k')), "kkkkkXXXXXX...");
    EXPECT_EQ(hide_secret("é234567890"), "éXXXX...");  // never half a character
}

}  // namespace
}  // namespace miroir::http
