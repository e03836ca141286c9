#include <gtest/gtest.h>

#include <miroir/http/api_error.hpp>
#include <miroir/http/encoding.hpp>

using namespace miroir::http;

TEST(Encoding, RoundTripsEveryCoding) {
    const std::string body = R"([{"id":1,"text":"hello hello hello hello"}])";
    for (const char* coding : {"br", "gzip", "deflate"}) {
        const auto encoded = encoded_body(coding, body);
        EXPECT_NE(encoded, body) << coding;
        EXPECT_EQ(decoded_body(coding, encoded, 1000), body) << coding;
    }
    EXPECT_EQ(decoded_body(" GZIP ", encoded_body("gzip", body), 1000), body);
    EXPECT_EQ(decoded_body("x-gzip", encoded_body("gzip", body), 1000), body);
}

TEST(Encoding, OtherCodingsLeaveTheBodyAsItIs) {
    EXPECT_EQ(decoded_body("foo", "[1]", 10), "[1]");
    EXPECT_EQ(decoded_body("identity", "[1]", 10), "[1]");
}

TEST(Encoding, ACorruptOrCutStreamIsABadRequest) {
    const auto gz = encoded_body("gzip", std::string(1000, 'a'));
    for (const auto& [coding, bytes] :
         std::vector<std::pair<std::string, std::string>>{{"gzip", "garbage"},
                                                          {"deflate", "garbage"},
                                                          {"br", "garbage!"},
                                                          {"gzip", gz.substr(0, gz.size() / 2)}}) {
        try {
            decoded_body(coding, bytes, 1 << 20);
            ADD_FAILURE() << coding << " accepted";
        } catch (const ApiError& e) {
            EXPECT_EQ(e.status(), 400u);
            EXPECT_EQ(e.code(), "bad_request");
            EXPECT_STREQ(e.what(), "The provided payload is incomplete and cannot be parsed");
        }
    }
}

TEST(Encoding, TheLimitIsOnTheDecodedSize) {
    const auto big = std::string(200'000, ' ');
    for (const char* coding : {"br", "gzip", "deflate"}) {
        const auto encoded = encoded_body(coding, big);
        ASSERT_LT(encoded.size(), 1000u);
        try {
            decoded_body(coding, encoded, 100'000);
            ADD_FAILURE() << coding << " accepted";
        } catch (const ApiError& e) {
            EXPECT_EQ(e.status(), 413u) << coding;
            EXPECT_EQ(e.code(), "payload_too_large");
        }
    }
}

TEST(Encoding, ResponsesTakeTheBestCodingTheClientAccepts) {
    EXPECT_EQ(response_coding("gzip, deflate, br"), "br");
    EXPECT_EQ(response_coding("gzip, deflate"), "gzip");
    EXPECT_EQ(response_coding("deflate"), "deflate");
    EXPECT_EQ(response_coding("br;q=0, gzip"), "gzip");
    EXPECT_EQ(response_coding("gzip;q=0.5, deflate;q=0.9"), "deflate");
    EXPECT_EQ(response_coding("*"), "br");
    EXPECT_EQ(response_coding("identity"), "");
    EXPECT_EQ(response_coding(""), "");
}
