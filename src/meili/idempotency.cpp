// Idempotency keys: the task store remembers each key's request (a digest) and, once the
// write was accepted, its answer. The claim is atomic for every pod sharing the store.
//
//   claim "pending:<digest>" ──► stored: run the write ──► 202: "done:<digest>:<answer>"
//                                                      └─► otherwise: forget the key
//                            └─► found: same digest? done → the answer again;
//                                        pending → wait for it; another digest → 422
#include <chrono>
#include <cstdio>
#include <openssl/evp.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/meili/idempotency.hpp>
#include <miroir/tasks/store.hpp>

namespace miroir::meili {

namespace {

namespace asio = boost::asio;

constexpr std::size_t kMaxKey = 256;
constexpr const char* kPending = "pending:";
constexpr const char* kDone = "done:";

// The request a key stands for: method, target and body.
std::string digest(const http::Request& r) {
    EVP_MD_CTX* sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(sha, EVP_sha256(), nullptr);
    for (const std::string* part : {&r.method_text, &r.target, &r.body}) {
        const auto size = std::to_string(part->size()) + ":";
        EVP_DigestUpdate(sha, size.data(), size.size());
        EVP_DigestUpdate(sha, part->data(), part->size());
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(sha, out, &length);
    EVP_MD_CTX_free(sha);
    std::string hex;
    char two[3];
    for (unsigned int i = 0; i < length; ++i) {
        const unsigned char c = out[i];
        std::snprintf(two, sizeof two, "%02x", c);
        hex += two;
    }
    return hex;
}

http::ApiError bad_key(std::string message) {
    return http::ApiError(400, "miroir_invalid_idempotency_key", http::ErrorType::invalid_request,
                          std::move(message));
}

void check_key(std::string_view key) {
    if (key.empty()) throw bad_key("The `Idempotency-Key` header is empty.");
    if (key.size() > kMaxKey) {
        throw bad_key("The `Idempotency-Key` header is " + std::to_string(key.size()) +
                      " bytes long; it must be at most " + std::to_string(kMaxKey) + " bytes.");
    }
    for (char c : key) {
        if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
            throw bad_key("The `Idempotency-Key` header must be printable ASCII without spaces.");
        }
    }
}

// The first answer to the key's request, as the client got it.
http::Response replay(const std::string& answer) {
    auto response = http::Response::json(202, answer);
    response.headers.set("Idempotent-Replayed", "true");
    return response;
}

}  // namespace

asio::awaitable<http::Response> idempotent(fleet::Context& ctx, http::Request& request,
                                           const http::Handler& next) {
    const auto header = request.headers.get("Idempotency-Key");
    if (!header) co_return co_await next(request);
    const std::string key(*header);
    check_key(key);
    const auto mine = digest(request);
    const auto store_key = "idempotency:" + key;
    const auto ttl = ctx.config.idempotency.ttl_seconds * 1000;
    // a retry while the first request runs waits for it, as long as a write may take
    const auto give_up = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(ctx.config.upstream.write_timeout_ms);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        const auto found = co_await ctx.store.claim(store_key, kPending + mine, ttl);
        if (!found) break;  // this request runs the write
        const bool done = found->starts_with(kDone);
        const auto rest = std::string_view(*found).substr(done ? 5 : 8);
        if (!rest.starts_with(mine)) {
            throw http::ApiError(
                422, "miroir_idempotency_key_reused", http::ErrorType::invalid_request,
                "The idempotency key `" + key + "` was already used for another request.");
        }
        if (done) co_return replay(std::string(rest.substr(mine.size() + 1)));
        if (std::chrono::steady_clock::now() > give_up) {
            throw http::ApiError(409, "miroir_idempotency_key_in_use",
                                 http::ErrorType::invalid_request,
                                 "A request with the idempotency key `" + key +
                                     "` is still running; retry it later.");
        }
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(asio::use_awaitable);
    }
    http::Response response;
    std::exception_ptr failed;
    try {
        response = co_await next(request);
    } catch (...) {
        failed = std::current_exception();
    }
    if (failed) {  // nothing to remember: a retry runs the write again
        co_await ctx.store.forget(store_key);
        std::rethrow_exception(failed);
    }
    if (response.status == 202) {
        co_await ctx.store.put_expiring(store_key, kDone + mine + ":" + response.body, ttl);
    } else {
        co_await ctx.store.forget(store_key);
    }
    co_return response;
}

}  // namespace miroir::meili
