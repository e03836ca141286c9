// Request helpers shared by every Meilisearch route: query strings checked against the names
// a route accepts, JSON bodies checked as Meilisearch checks them, and error shortcuts.
#pragma once

#include <cstdint>
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
std::string percent_encode(std::string_view s);

// The parameters of a query string, percent-decoded, in order.
std::vector<std::pair<std::string, std::string>> split_query(std::string_view raw);
// Rebuilds a query string from parameters, percent-encoded.
std::string join_query(const std::vector<std::pair<std::string, std::string>>& params);

ApiError bad_request(std::string message);
ApiError error(unsigned status, std::string code, std::string message,
               ErrorType type = ErrorType::invalid_request);

// The JSON body of a JSON-only route: checks Content-Type, presence and syntax.
nlohmann::ordered_json json_body(const Request& request);

Response respond(unsigned status, const nlohmann::ordered_json& body);

// A comma-separated query-string list, items trimmed of spaces.
std::vector<std::string> split_csv(std::string_view s);
// Items joined into such a list.
std::string join_csv(const std::vector<std::string>& items);

// camelCase → snake_case, as Meilisearch derives error codes from parameter names.
std::string snake_case(std::string_view camel);

// "`a`, `b`, `c`"
std::string backquoted_list(const std::vector<std::string>& items);

// A JSON value as Meilisearch's type errors name it: `a string: `"x"``, `a negative integer:
// `-1``, `an array: `[1]``, `null` (deserr's value_description_with_kind_json).
std::string found_value(const nlohmann::ordered_json& value);

// 400 for a multi-search body that is not an object of `queries` (an array) and `federation`,
// as Meilisearch words it.
void check_multi_search(const nlohmann::ordered_json& body);

// An error about query `position` of a multi-search, as Meilisearch reports it: a field named
// by its whole path (`.queries[0].q`), anything else after `Inside `.queries[0]`: `.
std::string query_message(std::size_t position, const std::string& message);

}  // namespace miroir::http
