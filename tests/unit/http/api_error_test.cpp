// Meilisearch's error shape and the payload-limit message.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <miroir/http/api_error.hpp>

namespace miroir::http {
namespace {

TEST(ApiError, BodyHasExactlyMeilisearchKeysInOrder) {
    const auto body = errors::invalid_api_key().body();
    EXPECT_EQ(body,
              R"({"message":"The provided API key is invalid.","code":"invalid_api_key",)"
              R"("type":"auth","link":"https://docs.meilisearch.com/errors#invalid_api_key"})");
}

TEST(ApiError, ResponseCarriesStatusAndJsonType) {
    const auto r = errors::missing_authorization_header().response();
    EXPECT_EQ(r.status, 401u);
    EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
    EXPECT_FALSE(r.headers.get("Retry-After").has_value());
}

TEST(ApiError, ServiceUnavailableAsksToRetry) {
    const auto r = ApiError(503, "miroir_no_quorum", ErrorType::system, "x").response();
    EXPECT_EQ(r.headers.get("Retry-After"), "10");
}

TEST(ApiError, MessagesWithQuotesStayValidJson) {
    const auto body =
        ApiError(400, "bad_request", ErrorType::invalid_request, "a \"b\" \n c").body();
    EXPECT_EQ(nlohmann::json::parse(body)["message"], "a \"b\" \n c");
}

TEST(HumanBytes, DecimalUnitsLikeMeilisearch) {
    EXPECT_EQ(human_bytes(100'000'000), "100 MB");
    EXPECT_EQ(human_bytes(104'857'600), "104.86 MB");
    EXPECT_EQ(human_bytes(1000), "1 KB");
    EXPECT_EQ(human_bytes(999), "999 B");
    EXPECT_EQ(human_bytes(2'500'000'000), "2.5 GB");
}

TEST(HumanBytes, PayloadTooLargeMessage) {
    const auto e = errors::payload_too_large(104'857'600);
    EXPECT_EQ(e.status(), 413u);
    EXPECT_EQ(e.code(), "payload_too_large");
    EXPECT_STREQ(e.what(),
                 "The provided payload reached the size limit. The maximum accepted payload size "
                 "is 104.86 MB.");
}

}  // namespace
}  // namespace miroir::http
