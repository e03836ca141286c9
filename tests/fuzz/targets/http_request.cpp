// The bytes of a request as the server reads them: the request line and header within the
// header limit, the body's framing (Content-Length, chunked) within the body limit, a coded body
// (gzip, deflate, br) decoded within that limit, and the query string. Input: raw request bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <miroir/http/api_error.hpp>
#include <miroir/http/encoding.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/request_head.hpp>

namespace {

constexpr std::uint64_t kMaxBody = 64 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace miroir::http;
    std::string error;
    auto request =
        parse_request(std::string_view(reinterpret_cast<const char*>(data), size), kMaxBody, error);
    if (!request) return 0;
    if (request->body.size() > kMaxBody) std::abort();
    if (request->body_too_large && !request->body.empty()) std::abort();
    split_query(request->query);
    try {
        const auto coding = request->headers.get("Content-Encoding");
        const auto body = decoded_body(coding ? *coding : "", std::move(request->body), kMaxBody);
        if (body.size() > kMaxBody) std::abort();
    } catch (const ApiError&) {
        // 400 for a corrupt stream, 413 past the limit
    }
    return 0;
}
