// POST /export's body, checked field by field with Meilisearch's codes and words.
#include "export_request.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <variant>

#include <miroir/http/api_error.hpp>
#include <miroir/http/api_keys.hpp>
#include <miroir/http/params.hpp>

namespace miroir::meili {

namespace {

using json = nlohmann::ordered_json;

http::ApiError wrong_type(const std::string& code, const std::string& at, const char* expected,
                          const json& found) {
    return http::error(400, code,
                       "Invalid value type at `" + at + "`: expected " + expected + ", but found " +
                           http::found_value(found));
}

// Rust's `{:?}` of a character, as byte_unit's errors show it: 'l'.
std::string quoted(char c) { return std::string("'") + c + "'"; }

// A byte size as byte_unit reads it (case matters: `b` is a bit, `B` a byte): a number (with
// decimals), spaces, then nothing, `B`, `b`, `bit`, or a prefix K, M, G, T, P, E with an
// optional `i` and `B` or `b`. The bytes, or byte_unit's words for what is wrong.
std::variant<std::uint64_t, std::string> parse_bytes(const std::string& raw) {
    auto text = raw;
    text.erase(0, text.find_first_not_of(' '));
    text.erase(text.find_last_not_of(' ') + 1);
    if (text.empty()) return std::string("no value can be found");
    if (!std::isdigit(static_cast<unsigned char>(text[0]))) {
        return "the character " + quoted(text[0]) + " is not a number";
    }
    std::size_t i = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i < text.size() && text[i] == '.') {
        ++i;
        if (i == text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) {
            return "the character " + quoted(i == text.size() ? '.' : text[i]) + " is not a number";
        }
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    }
    const double value = std::strtod(text.substr(0, i).c_str(), nullptr);
    while (i < text.size() && text[i] == ' ') ++i;
    auto unit = text.substr(i);
    double factor = 1;
    static const std::string kPrefixes = "KMGTPE";
    if (!unit.empty() && unit != "B") {
        const auto power = kPrefixes.find(static_cast<char>(std::toupper(unit[0])));
        std::size_t at = 0;
        if (power != std::string::npos) {
            at = 1;
            double base = 1000;
            if (at < unit.size() && (unit[at] == 'i' || unit[at] == 'I')) {
                base = 1024;
                ++at;
            }
            factor = std::pow(base, static_cast<double>(power + 1));
        }
        const auto rest = unit.substr(at);
        if (rest == "b" || rest == "bit" || rest == "bits" || (at == 0 && rest == "Bit")) {
            factor /= 8;
        } else if (!rest.empty() && rest != "B") {
            return "the character " + quoted(rest[0]) + " is incorrect";
        }
    }
    return static_cast<std::uint64_t>(std::ceil(value * factor));
}

// A size as byte_unit prints it in its appropriate unit, binary or decimal: the largest unit
// it reaches (a binary one before the decimal one of its prefix), the value as Rust prints a
// float ("2 KiB", "1.1920928955078125 MiB").
std::string bytes_text(std::uint64_t bytes) {
    static const char* const kBinary[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    static const char* const kDecimal[] = {"KB", "MB", "GB", "TB", "PB", "EB"};
    for (int p = 5; p >= 0; --p) {
        for (const bool binary : {true, false}) {
            const double unit = std::pow(binary ? 1024.0 : 1000.0, p + 1);
            if (static_cast<double>(bytes) < unit) continue;
            char out[64];
            const auto end =
                std::to_chars(out, out + sizeof out, static_cast<double>(bytes) / unit).ptr;
            return std::string(out, end) + " " + (binary ? kBinary[p] : kDecimal[p]);
        }
    }
    return std::to_string(bytes) + " B";
}

ExportIndex index_options(const std::string& pattern, const json& value) {
    const std::string at = ".indexes." + pattern;
    ExportIndex out{pattern, json(), false};
    if (!value.is_object()) throw wrong_type("bad_request", at, "an object", value);
    for (const auto& [key, v] : value.items()) {
        if (key == "filter") {
            out.filter = v;
        } else if (key == "overrideSettings") {
            if (!v.is_boolean()) {
                throw wrong_type("invalid_export_index_override_settings", at + ".overrideSettings",
                                 "a boolean", v);
            }
            out.override_settings = v.get<bool>();
        } else {
            throw http::error(400, "bad_request",
                              "Unknown field `" + key + "` inside `" + at +
                                  "`: expected one of `filter`, `overrideSettings`");
        }
    }
    return out;
}

void read_indexes(const json& value, ExportRequest& out) {
    if (value.is_null()) return;
    if (!value.is_object()) {
        throw wrong_type("bad_request", ".indexes", "an object", value);
    }
    for (const auto& [pattern, options] : value.items()) {
        const auto star = pattern.find('*');
        const bool valid = !pattern.empty() &&
                           (star == std::string::npos || star + 1 == pattern.size()) &&
                           std::all_of(pattern.begin(), pattern.end(), [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                      c == '_' || c == '*';
                           });
        if (!valid) {
            throw http::bad_request("Invalid value at `.indexes`: the key \"" + pattern +
                                    "\" could not be deserialized into the key type "
                                    "`meilisearch_types::index_uid_pattern::IndexUidPattern`");
        }
        out.indexes.push_back(index_options(pattern, options));
    }
}

}  // namespace

const ExportIndex* ExportRequest::options_for(const std::string& uid) const {
    for (const auto& index : indexes) {
        const auto& p = index.pattern;
        if (p == uid || (p.ends_with('*') && uid.starts_with(p.substr(0, p.size() - 1)))) {
            return &index;
        }
    }
    return nullptr;
}

json ExportRequest::details() const {
    json d;
    d["url"] = url;
    if (api_key) d["apiKey"] = http::hide_secret(*api_key);
    if (payload_given) d["payloadSize"] = bytes_text(*payload_given);
    json patterns = json::object();
    for (const auto& index : indexes) {
        patterns[index.pattern] = {{"filter", index.filter},
                                   {"overrideSettings", index.override_settings}};
    }
    d["indexes"] = std::move(patterns);
    return d;
}

ExportRequest parse_export(const json& body) {
    if (!body.is_object()) {
        throw http::bad_request("Invalid value type: expected an object, but found " +
                                http::found_value(body));
    }
    ExportRequest out;
    for (const auto& [key, value] : body.items()) {
        if (key == "url") {
            if (!value.is_string())
                throw wrong_type("invalid_export_url", ".url", "a string", value);
            out.url = value.get<std::string>();
        } else if (key == "apiKey") {
            if (value.is_null()) continue;
            if (!value.is_string()) {
                throw wrong_type("invalid_export_api_key", ".apiKey", "a string", value);
            }
            out.api_key = value.get<std::string>();
        } else if (key == "payloadSize") {
            if (value.is_null()) continue;
            if (value.is_string()) {
                auto parsed = parse_bytes(value.get<std::string>());
                if (auto* words = std::get_if<std::string>(&parsed)) {
                    throw http::error(400, "invalid_export_payload_size",
                                      "Invalid value at `.payloadSize`: " + *words);
                }
                out.payload_given = out.payload_size = std::get<std::uint64_t>(parsed);
            } else if (value.is_number_unsigned()) {
                out.payload_given = out.payload_size = value.get<std::uint64_t>();
            } else {
                throw wrong_type("invalid_export_payload_size", ".payloadSize",
                                 "a positive integer or a string", value);
            }
        } else if (key == "indexes") {
            read_indexes(value, out);
        } else {
            throw http::bad_request("Unknown field `" + key +
                                    "`: expected one of `url`, `apiKey`, `payloadSize`, `indexes`");
        }
    }
    if (out.indexes.empty()) out.indexes.push_back({"*", json(), false});
    return out;
}

}  // namespace miroir::meili
