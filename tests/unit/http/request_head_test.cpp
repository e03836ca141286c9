// Requests read from their bytes with the server's limits: framing that could be read two ways
// is refused, oversized headers and bodies are caught at the limit.
#include <string>

#include <gtest/gtest.h>

#include <miroir/http/request_head.hpp>

namespace miroir::http {
namespace {

std::optional<Request> parse(const std::string& bytes, std::uint64_t max_body = 1024) {
    std::string error;
    return parse_request(bytes, max_body, error);
}

TEST(RequestHead, ReadsTheTargetHeadersAndBody) {
    const auto r = parse(
        "POST /indexes/movies/search/?q=a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{}");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->path, "/indexes/movies/search");
    EXPECT_EQ(r->query, "q=a");
    EXPECT_EQ(r->headers.get("content-type"), "application/json");
    EXPECT_EQ(r->body, "{}");
}

TEST(RequestHead, ChunkedBodiesAreJoined) {
    const auto r = parse(
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[1\r\n1\r\n]\r\n0\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "[1]");
}

// Request smuggling: a body length that two readers could take two ways is never guessed.
TEST(RequestHead, AmbiguousFramingIsRefused) {
    EXPECT_FALSE(
        parse("POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
              "0\r\n\r\n"));
    EXPECT_FALSE(parse("POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"));
    EXPECT_FALSE(parse("POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n"));
    EXPECT_FALSE(parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"));
    EXPECT_FALSE(parse("POST /x HTTP/1.1\r\nContent-Length : 1\r\n\r\na"));
}

// A folded header line (obs-fold) is joined with a space, as RFC 9112 §5.2 allows: no line end
// reaches a handler, and Miroir sends no client header on to a node as it came.
TEST(RequestHead, FoldedHeaderLinesAreJoined) {
    const auto r = parse("POST /x HTTP/1.1\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->headers.get("X"), "a b");
}

TEST(RequestHead, OversizedHeaderIsRefused) {
    const std::string big(kHeaderLimit, 'a');
    EXPECT_FALSE(parse("GET /x HTTP/1.1\r\nX-Big: " + big + "\r\n\r\n"));
}

TEST(RequestHead, BodyOverTheLimitIsCaughtWithoutReadingIt) {
    const auto declared = parse("POST /x HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\nabc", 1024);
    ASSERT_TRUE(declared);
    EXPECT_TRUE(declared->body_too_large);
    EXPECT_TRUE(declared->body.empty());

    const std::string chunk(600, 'a');
    const auto chunked = parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" +
                                   chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n",
                               1024);
    ASSERT_TRUE(chunked);
    EXPECT_TRUE(chunked->body_too_large);
}

TEST(RequestHead, ARequestCutShortIsNotARequest) {
    EXPECT_FALSE(parse("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
    EXPECT_FALSE(parse("GET /x HTTP/1.1\r\nHost: x\r\n"));
}

}  // namespace
}  // namespace miroir::http
