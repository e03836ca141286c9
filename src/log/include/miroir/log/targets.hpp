// Log filters written as Meilisearch's `/logs/*` routes take them: `tracing_subscriber`'s
// `Targets` syntax, comma-separated directives `target=level`, `level` or `target` (every
// level), e.g. `info`, `miroir=debug`, `milli=trace,miroir=off`. Every Miroir line has the
// target `miroir`: the directive with the longest target that `miroir` starts with decides
// (a bare level has the shortest), and no matching directive means off. Pure, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <miroir/log/log.hpp>

namespace miroir::log {

// Every Miroir line's target in these filters.
inline constexpr std::string_view kTarget = "miroir";

// The lowest level a filter lets through for Miroir's lines, or nullopt (off); `trace` reads
// as `debug`, Miroir's lowest.
using Threshold = std::optional<Level>;

// The threshold of `text`, or the message `tracing_subscriber` gives for what it refuses
// (`Targets::from_str`; an empty string is refused with Meilisearch's own message).
std::variant<Threshold, std::string> parse_targets(std::string_view text);

}  // namespace miroir::log
