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
// A duration as a search's `performanceDetails` shows one (Rust's `{:.2?}`): the largest unit it
// reaches, two decimals: "43.54µs", "1.57ms", "2.00s", "512.00ns".
std::string debug_duration(std::chrono::nanoseconds d);
// The nanoseconds of such a text; nothing when it is not one.
std::optional<double> parse_debug_duration(const std::string& text);

}  // namespace miroir::util
