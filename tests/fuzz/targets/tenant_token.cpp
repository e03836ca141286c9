// Tenant tokens: a JWT from a client checked against the key that signed it, its search rules
// read, and their filter ANDed into a search. Input: a first byte choosing the form, then either
// a whole token as a client sends it, or the claims of a token signed here with the key (so that
// the rules past the signature are reached).
#include <cstddef>
#include <cstdint>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <miroir/http/api_error.hpp>
#include <miroir/http/tenant_token.hpp>

namespace {

using json = nlohmann::ordered_json;
using namespace miroir;

constexpr std::string_view kKey = "a-key-value-of-32-bytes-or-more!!";

std::string base64url(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t bits = 0;
    int count = 0;
    for (const unsigned char c : bytes) {
        bits = (bits << 8) | c;
        count += 8;
        while (count >= 6) {
            count -= 6;
            out += kAlphabet[(bits >> count) & 63];
        }
    }
    if (count > 0) out += kAlphabet[(bits << (6 - count)) & 63];
    return out;
}

std::string signed_token(std::string_view claims) {
    const std::string head = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(claims);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
         reinterpret_cast<const unsigned char*>(head.data()), head.size(), mac, &len);
    return head + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::string token = data[0] & 1 ? signed_token(rest) : std::string(rest);
    const auto verified = http::verify_tenant_token(
        token, [](const std::string&) { return std::optional<std::string>(kKey); });
    if (!verified) return 0;
    try {
        http::check_tenant_expiry(*verified, 1700000000);
        http::check_tenant_index(verified->rules, "movies", {"*"});
        http::Request request;
        request.tenant_rules = verified->rules;
        json body = {{"q", "x"}, {"filter", "genre = drama"}};
        http::apply_tenant_rules(request, "movies", body);
    } catch (const http::ApiError&) {
        // expired, or not opening the index: Meilisearch's 403
    }
    return 0;
}
