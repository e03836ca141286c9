// Route matching: literals, captures, percent-decoding, and 404 versus 405.
#include <gtest/gtest.h>

#include <miroir/http/router.hpp>

namespace miroir::http {
namespace {

boost::asio::awaitable<Response> noop(Request&) { co_return Response{}; }

Router make_router() {
    Router r;
    r.add(Method::get, "/health", Access::open, noop);
    r.add(Method::post, "/indexes/{uid}/documents/fetch", Access::client, noop);
    r.add(Method::get, "/indexes/{uid}/documents/{id}", Access::client, noop);
    return r;
}

TEST(Router, MatchesLiteralPath) {
    const auto r = make_router();
    const auto m = r.match(Method::get, "/health");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/health");
}

TEST(Router, CapturesDecodedSegments) {
    const auto r = make_router();
    const auto m = r.match(Method::get, "/indexes/movies/documents/a%2Db");
    ASSERT_NE(m.route, nullptr);
    ASSERT_EQ(m.params.size(), 2u);
    EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>{"uid", "movies"}));
    EXPECT_EQ(m.params[1], (std::pair<std::string, std::string>{"id", "a-b"}));
}

TEST(Router, KnownPathWithOtherMethodIsNotFoundButExists) {
    const auto r = make_router();
    const auto m = r.match(Method::del, "/health");
    EXPECT_EQ(m.route, nullptr);
    EXPECT_TRUE(m.path_exists);
}

TEST(Router, UnknownPath) {
    const auto r = make_router();
    for (const char* path : {"/healthz", "/", "/indexes/movies", "/health/x"}) {
        const auto m = r.match(Method::get, path);
        EXPECT_EQ(m.route, nullptr) << path;
        EXPECT_FALSE(m.path_exists) << path;
    }
}

TEST(Router, MethodSelectsAmongSameShape) {
    const auto r = make_router();
    const auto m = r.match(Method::post, "/indexes/movies/documents/fetch");
    ASSERT_NE(m.route, nullptr);
    EXPECT_EQ(m.route->pattern, "/indexes/{uid}/documents/fetch");
}

}  // namespace
}  // namespace miroir::http
