// Time in Meilisearch's textual forms: RFC 3339 dates and ISO-8601 durations.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace miroir::util {

using Time = std::chrono::system_clock::time_point;

Time now();
// Milliseconds since the Unix epoch, now.
std::int64_t unix_ms();
// RFC 3339 UTC, fraction with the fewest digits (none when zero): 2024-08-08T17:05:55.791772Z
std::string rfc3339(Time t);
// Parses RFC 3339 or YYYY-MM-DD (midnight UTC); nullopt when invalid.
std::optional<Time> parse_date(std::string_view s, bool* date_only = nullptr);
// ISO-8601 duration as Meilisearch prints it: PT0.009330S, PT1S, P1DT3600S; empty when negative.
std::string iso_duration(std::chrono::nanoseconds d);

}  // namespace miroir::util
