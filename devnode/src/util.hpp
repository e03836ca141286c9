// Small helpers of the development node: clock formatting, query strings, request checks.
#pragma once

#include <chrono>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <miroir/http/api_error.hpp>
#include <miroir/http/message.hpp>

namespace devnode {

using json = nlohmann::ordered_json;
using Time = std::chrono::system_clock::time_point;
using miroir::http::ApiError;
using miroir::http::ErrorType;

Time now();
// RFC 3339 UTC, fraction with the fewest digits (none when zero): 2024-08-08T17:05:55.791772Z
std::string rfc3339(Time t);
// Parses RFC 3339 or YYYY-MM-DD (midnight UTC); nullopt when invalid.
std::optional<Time> parse_date(std::string_view s, bool* date_only = nullptr);
// ISO-8601 duration as Meilisearch prints it: PT0.009330S, PT1S, P1DT3600S.
std::string iso_duration(std::chrono::nanoseconds d);

// Query-string parameters, percent-decoded, checked against the names a route accepts.
class Query {
  public:
    // Throws bad_request for an unknown parameter.
    Query(std::string_view raw, const std::vector<std::string_view>& allowed);
    std::optional<std::string> get(std::string_view name) const;
    // Strict unsigned integer; throws `code` with Meilisearch's message when invalid.
    std::optional<std::uint64_t> get_uint(std::string_view name, const std::string& code) const;
    std::optional<bool> get_bool(std::string_view name, const std::string& code) const;
    bool has(std::string_view name) const { return values_.count(std::string(name)) > 0; }
    const std::string& raw() const { return raw_; }

  private:
    std::string raw_;
    std::map<std::string, std::string> values_;
};

std::string percent_decode(std::string_view s, bool plus_is_space);

ApiError bad_request(std::string message);
ApiError error(unsigned status, std::string code, std::string message,
               ErrorType type = ErrorType::invalid_request);

// The JSON body of a JSON-only route: checks Content-Type, presence and syntax.
json json_body(const miroir::http::Request& request);

miroir::http::Response respond(unsigned status, const json& body);

// A comma-separated query-string list, items trimmed of spaces.
std::vector<std::string> split_csv(std::string_view s);

// camelCase → snake_case, as Meilisearch derives error codes from parameter names.
std::string snake_case(std::string_view camel);

// "`a`, `b`, `c`"
std::string backquoted_list(const std::vector<std::string>& items);

}  // namespace devnode
