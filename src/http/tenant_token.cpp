#include <cctype>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <miroir/http/api_keys.hpp>
#include <miroir/http/tenant_token.hpp>

namespace miroir::http {

namespace {

using json = nlohmann::ordered_json;

ApiError forbidden(std::string message) {
    return ApiError(403, "invalid_api_key", ErrorType::auth, std::move(message));
}

// base64url (no padding) to bytes; nullopt when malformed.
std::optional<std::string> base64url(std::string_view text) {
    std::string b64(text);
    for (auto& c : b64) {
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!std::isalnum(static_cast<unsigned char>(c)))
            return std::nullopt;
    }
    const std::size_t pad = (4 - b64.size() % 4) % 4;
    if (pad == 3) return std::nullopt;
    b64.append(pad, '=');
    std::string out(b64.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

// The search rules of a tenant token's claims.
std::optional<std::vector<Request::TenantRule>> search_rules(const json& rules) {
    std::vector<Request::TenantRule> out;
    if (rules.is_array()) {
        for (const auto& p : rules) {
            if (!p.is_string()) return std::nullopt;
            out.push_back({p.get<std::string>(), {}});
        }
        return out;
    }
    if (!rules.is_object()) return std::nullopt;
    for (const auto& [pattern, rule] : rules.items()) {
        if (!rule.is_null() && !rule.is_object()) return std::nullopt;
        const auto filter = rule.is_object() ? rule.value("filter", json()) : json();
        out.push_back({pattern, filter.is_null() ? std::string() : filter.dump()});
    }
    return out;
}

// A list of names as Meilisearch's messages print them: ["a", "b"].
std::string quoted_list(const std::vector<std::string>& names) {
    std::string out = "[";
    for (const auto& n : names) out += (out.size() > 1 ? ", " : "") + json(n).dump();
    return out + "]";
}

}  // namespace

std::optional<TenantToken> verify_tenant_token(
    std::string_view token,
    const std::function<std::optional<std::string>(const std::string&)>& value_of) {
    const auto first = token.find('.');
    const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    const auto header_text = base64url(token.substr(0, first));
    const auto claims_text = base64url(token.substr(first + 1, second - first - 1));
    const auto signature = base64url(token.substr(second + 1));
    if (!header_text || !claims_text || !signature) return std::nullopt;
    const auto header = json::parse(*header_text, nullptr, false);
    auto claims = json::parse(*claims_text, nullptr, false);
    if (!header.is_object() || !claims.is_object()) return std::nullopt;
    const auto alg = header.value("alg", std::string());
    const EVP_MD* md = alg == "HS256"   ? EVP_sha256()
                       : alg == "HS384" ? EVP_sha384()
                       : alg == "HS512" ? EVP_sha512()
                                        : nullptr;
    const auto uid = claims.value("apiKeyUid", json());
    auto rules = search_rules(claims.value("searchRules", json()));
    if (!md || !uid.is_string() || !rules) return std::nullopt;
    const auto value = value_of(uid.get<std::string>());
    if (!value) return std::nullopt;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const std::string_view signed_part = token.substr(0, second);
    HMAC(md, value->data(), static_cast<int>(value->size()),
         reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac, &len);
    if (signature->size() != len || CRYPTO_memcmp(mac, signature->data(), len) != 0) {
        return std::nullopt;
    }
    TenantToken out;
    out.api_key_uid = uid.get<std::string>();
    out.rules = std::move(*rules);
    if (const auto exp = claims.value("exp", json()); exp.is_number_integer()) {
        out.exp = exp.get<std::int64_t>();
    }
    out.claims = std::move(claims);
    return out;
}

void check_tenant_expiry(const TenantToken& token, std::int64_t now) {
    if (token.exp && now > *token.exp) {
        throw forbidden("Tenant token expired. Was valid up to `" + std::to_string(*token.exp) +
                        "` and we're now `" + std::to_string(now) + "`.");
    }
}

void check_tenant_index(const std::vector<Request::TenantRule>& rules, std::string_view uid,
                        const std::vector<std::string>& key_indexes) {
    bool ruled = false;
    for (const auto& rule : rules) ruled = ruled || index_allows({rule.pattern}, uid);
    if (!ruled) {
        std::vector<std::string> allowed;
        for (const auto& rule : rules) allowed.push_back(rule.pattern);
        throw forbidden("The provided tenant token cannot acces the index `" + std::string(uid) +
                        "`, allowed indexes are " + quoted_list(allowed) + ".");
    }
    if (!index_allows(key_indexes, uid)) {
        throw forbidden("The API key used to generate this tenant token cannot acces the index `" +
                        std::string(uid) + "`.");
    }
}

json and_filters(const json& left, const json& right) {
    if (left.is_null()) return right;
    if (right.is_null()) return left;
    json out = left.is_array() ? left : json::array({left});
    if (right.is_array()) {
        out.insert(out.end(), right.begin(), right.end());
    } else {
        out.push_back(right);
    }
    return out;
}

namespace {

// `filter` with the filter of the request's tenant token for `uid` ANDed to it.
json with_tenant_filter(const Request& r, const std::string& uid, const json& filter) {
    const auto* rule = r.tenant_rule(uid);
    if (!rule || rule->filter.empty()) return filter;
    return and_filters(filter, json::parse(rule->filter, nullptr, false));
}

}  // namespace

void apply_tenant_rules(const Request& r, const std::string& uid, json& body) {
    if (!r.tenant_rules || !body.is_object()) return;
    auto fused = with_tenant_filter(r, uid, body.value("filter", json()));
    if (!fused.is_null()) body["filter"] = std::move(fused);
}

void apply_tenant_query(const Request& r, const std::string& uid,
                        std::vector<std::pair<std::string, std::string>>& params,
                        std::map<std::string, std::string>& by_name) {
    const auto* rule = r.tenant_rule(uid);
    if (!rule || rule->filter.empty()) return;
    json own;
    if (by_name.contains("filter")) {
        own = json::parse(by_name["filter"], nullptr, false);
        if (!own.is_array()) own = by_name["filter"];
    }
    const auto fused = with_tenant_filter(r, uid, own).dump();
    std::erase_if(params, [](const auto& p) { return p.first == "filter"; });
    params.emplace_back("filter", fused);
    by_name["filter"] = fused;
}

}  // namespace miroir::http
