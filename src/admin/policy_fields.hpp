// What the policy routes (ttl.cpp, ilm.cpp) share in reading their bodies.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include <miroir/http/params.hpp>

namespace miroir::admin {

inline constexpr std::int64_t kYear = 365LL * 24 * 3600;  // seconds
inline constexpr std::int64_t kCentury = 100 * kYear;

// A body's integer field `key` from `least` to `most`; 400 `code` otherwise.
inline std::int64_t whole(const nlohmann::ordered_json& value, const std::string& key,
                          std::int64_t least, std::int64_t most, const char* code) {
    if (!value.is_number_integer() || value.get<std::int64_t>() < least ||
        value.get<std::int64_t>() > most) {
        throw http::error(400, code,
                          "Invalid value at `." + key + "`: expected an integer from " +
                              std::to_string(least) + " to " + std::to_string(most) +
                              ", but found " + http::found_value(value));
    }
    return value.get<std::int64_t>();
}

}  // namespace miroir::admin
