// Query strings, JSON bodies and error shortcuts for Meilisearch routes.
#include <algorithm>
#include <cctype>

#include <miroir/http/params.hpp>

namespace miroir::http {

std::string percent_decode(std::string_view s, bool plus_is_space) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::string percent_encode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

std::vector<std::string> split_csv(std::string_view s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        auto end = s.find(',', start);
        if (end == std::string_view::npos) end = s.size();
        std::string item(s.substr(start, end - start));
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        out.push_back(std::move(item));
        start = end + 1;
    }
    return out;
}

std::string join_csv(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (&item != &items.front()) out.push_back(',');
        out += item;
    }
    return out;
}

std::string snake_case(std::string_view camel) {
    std::string out;
    for (char c : camel) {
        if (std::isupper(static_cast<unsigned char>(c))) {
            out += '_';
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else {
            out += c;
        }
    }
    return out;
}

std::string found_value(const nlohmann::ordered_json& value) {
    const char* kind = "null";
    if (value.is_boolean()) kind = "a boolean";
    if (value.is_number_unsigned()) kind = "a positive integer";
    if (value.is_number_integer() && !value.is_number_unsigned()) kind = "a negative integer";
    if (value.is_number_float()) kind = "a number";
    if (value.is_string()) kind = "a string";
    if (value.is_array()) kind = "an array";
    if (value.is_object()) kind = "an object";
    if (value.is_null()) return kind;
    return std::string(kind) + ": `" + value.dump() + "`";
}

std::string backquoted_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += ", ";
        out += "`" + item + "`";
    }
    return out;
}

Query::Query(std::string_view raw, const std::vector<std::string_view>& allowed) : raw_(raw) {
    std::size_t start = 0;
    while (start <= raw.size() && !raw.empty()) {
        auto end = raw.find('&', start);
        if (end == std::string_view::npos) end = raw.size();
        const auto part = raw.substr(start, end - start);
        if (!part.empty()) {
            const auto eq = part.find('=');
            auto name = percent_decode(part.substr(0, eq), true);
            auto value = eq == std::string_view::npos ? std::string()
                                                      : percent_decode(part.substr(eq + 1), true);
            if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
                std::vector<std::string> names(allowed.begin(), allowed.end());
                throw bad_request("Unknown parameter `" + name + "`: expected one of " +
                                  backquoted_list(names));
            }
            values_[name] = std::move(value);
        }
        start = end + 1;
    }
}

std::optional<std::string> Query::get(std::string_view name) const {
    auto it = values_.find(std::string(name));
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::uint64_t> Query::get_uint(std::string_view name, const std::string& code) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    const bool ok = !v->empty() && v->size() < 20 &&
                    std::all_of(v->begin(), v->end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!ok) {
        throw error(400, code,
                    "Invalid value in parameter `" + std::string(name) + "`: could not parse `" +
                        *v + "` as a positive integer");
    }
    return std::stoull(*v);
}

std::optional<bool> Query::get_bool(std::string_view name, const std::string& code) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    std::string lower = *v;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == "true") return true;
    if (lower == "false") return false;
    throw error(400, code,
                "Invalid value in parameter `" + std::string(name) + "`: could not parse `" + *v +
                    "` as a boolean, expected either `true` or `false`");
}

ApiError bad_request(std::string message) {
    return ApiError(400, "bad_request", ErrorType::invalid_request, std::move(message));
}

ApiError error(unsigned status, std::string code, std::string message, ErrorType type) {
    return ApiError(status, std::move(code), type, std::move(message));
}

nlohmann::ordered_json json_body(const Request& request) {
    const auto type = request.headers.get("Content-Type");
    const std::string accepted =
        "Accepted values for the Content-Type header are: `application/json`";
    if (!type) {
        throw error(415, "missing_content_type", "A Content-Type header is missing. " + accepted);
    }
    const auto base = type->substr(0, type->find(';'));
    if (base != "application/json") {
        throw error(415, "invalid_content_type",
                    "The Content-Type `" + std::string(*type) + "` is invalid. " + accepted);
    }
    if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
        throw error(400, "missing_payload", "A json payload is missing.");
    }
    try {
        return nlohmann::ordered_json::parse(request.body);
    } catch (const nlohmann::json::parse_error& e) {
        throw error(400, "malformed_payload",
                    std::string("The json payload provided is malformed. `") + e.what() + "`.");
    }
}

Response respond(unsigned status, const nlohmann::ordered_json& body) {
    return Response::json(status,
                          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::vector<std::pair<std::string, std::string>> split_query(std::string_view raw) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t start = 0;
    while (start < raw.size()) {
        auto end = raw.find('&', start);
        if (end == std::string_view::npos) end = raw.size();
        const auto part = raw.substr(start, end - start);
        if (!part.empty()) {
            const auto eq = part.find('=');
            out.emplace_back(percent_decode(part.substr(0, eq), true),
                             eq == std::string_view::npos
                                 ? std::string()
                                 : percent_decode(part.substr(eq + 1), true));
        }
        start = end + 1;
    }
    return out;
}

std::string join_query(const std::vector<std::pair<std::string, std::string>>& params) {
    std::string out;
    for (const auto& [k, v] : params) {
        if (!out.empty()) out += '&';
        out += percent_encode(k) + "=" + percent_encode(v);
    }
    return out;
}

void check_multi_search(const nlohmann::ordered_json& body) {
    if (!body.is_object()) {
        throw bad_request("Invalid value type: expected an object, but found " + found_value(body));
    }
    for (const auto& [key, value] : body.items()) {
        if (key == "queries" && !value.is_array()) {
            throw bad_request("Invalid value type at `.queries`: expected an array, but found " +
                              found_value(value));
        }
        if (key != "queries" && key != "federation") {
            throw bad_request("Unknown field `" + key +
                              "`: expected one of `queries`, `federation`");
        }
    }
    if (!body.contains("queries")) throw bad_request("Missing field `queries`");
}

std::string query_message(std::size_t position, const std::string& message) {
    const std::string at = ".queries[" + std::to_string(position) + "]";
    // a field of the query: named by its whole path, as Meilisearch's deserializer names it
    for (const char* lead : {"Invalid value type at `.", "Invalid value at `."}) {
        if (message.starts_with(lead)) {
            const auto n = std::string(lead).size() - 1;
            return message.substr(0, n) + at + "." + message.substr(n + 1);
        }
    }
    if (message.starts_with("Unknown field `")) {
        const auto colon = message.find("`: expected");
        if (colon != std::string::npos) {
            return message.substr(0, colon + 1) + " inside `" + at + "`" +
                   message.substr(colon + 1);
        }
    }
    if (message.starts_with("Missing field `") && message.find('\n') == std::string::npos) {
        return message + " inside `" + at + "`";
    }
    return "Inside `" + at + "`: " + message;
}

}  // namespace miroir::http
