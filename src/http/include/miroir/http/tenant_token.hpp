// Tenant tokens: JWTs (HS256, HS384, HS512) signed with an API key's value, whose
// `searchRules` restrict searches to some indexes and AND a filter into them. The checks
// Miroir and the development node share; the key behind the token is theirs to look up.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <miroir/http/api_error.hpp>
#include <miroir/http/message.hpp>

namespace miroir::http {

struct TenantToken {
    std::string api_key_uid;
    std::vector<Request::TenantRule> rules;
    std::optional<std::int64_t> exp;  // seconds since the epoch
    nlohmann::ordered_json claims;
};

// The token when it is a well-formed JWT with an `apiKeyUid` and valid `searchRules` (an
// array of index patterns, or an object of pattern → null | {"filter": …}) whose signature
// checks with the value `value_of(apiKeyUid)` gives; nullopt otherwise (no such key, another
// algorithm, a bad signature: the token is then tried as an API key, as Meilisearch does).
std::optional<TenantToken> verify_tenant_token(
    std::string_view token,
    const std::function<std::optional<std::string>(const std::string&)>& value_of);

// Throws Meilisearch's 403 when the token expired (`now` in seconds since the epoch).
void check_tenant_expiry(const TenantToken& token, std::int64_t now);

// Throws Meilisearch's 403 when a token's rules, or the indexes of the key that signed it
// (`key_indexes`), do not open index `uid`.
void check_tenant_index(const std::vector<Request::TenantRule>& rules, std::string_view uid,
                        const std::vector<std::string>& key_indexes);

// Two filters (null, a string or an array) ANDed as Meilisearch fuses them: both as lists,
// concatenated; null on either side leaves the other.
nlohmann::ordered_json and_filters(const nlohmann::ordered_json& left,
                                   const nlohmann::ordered_json& right);

// A search body (an object) with the filter of the request's tenant rule for `uid` ANDed in.
void apply_tenant_rules(const Request& r, const std::string& uid, nlohmann::ordered_json& body);

// A GET search's query string parameters with that filter ANDed to the client's, sent as a
// JSON filter.
void apply_tenant_query(const Request& r, const std::string& uid,
                        std::vector<std::pair<std::string, std::string>>& params,
                        std::map<std::string, std::string>& by_name);

}  // namespace miroir::http
