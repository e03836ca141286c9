// Sizes as Meilisearch writes them for people (`sizeFormat=human` on the stats routes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace miroir::util {

// Bytes in the largest binary unit they reach, at most two decimals, no trailing zeros:
// "512 B", "4 KiB", "3.99 KiB", "1.5 MiB" (Rust's byte_unit, `{:#.2}` of the appropriate unit).
std::string human_size(std::uint64_t bytes);
// The bytes of such a text ("28 KiB"), nothing when it is not one.
std::optional<std::uint64_t> parse_human_size(const std::string& text);

}  // namespace miroir::util
