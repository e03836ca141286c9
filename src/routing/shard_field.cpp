#include <miroir/routing/shard_field.hpp>

namespace miroir::routing {

namespace {

// The character that stands for each decimal digit in a stored shard: all of them in
// charabia's DEFAULT_SEPARATORS (and non-alphanumeric for the development node), none of them
// needing an escape in JSON, CSV (the value is quoted) or a filter's quoted string.
constexpr std::string_view kShardDigits = "()[]{}!?;:";

}  // namespace

std::string shard_value(std::uint32_t shard) {
    std::string out;
    for (const char digit : std::to_string(shard)) out.push_back(kShardDigits[digit - '0']);
    return out;
}

std::optional<std::uint32_t> shard_of_value(std::string_view value) {
    if (value.empty() || value.size() > 9) return std::nullopt;
    std::uint32_t shard = 0;
    const bool number = value.find_first_not_of("0123456789") == std::string_view::npos;
    for (const char c : value) {
        const auto digit = number ? std::string_view::size_type(c - '0') : kShardDigits.find(c);
        if (digit == std::string_view::npos) return std::nullopt;
        shard = shard * 10 + static_cast<std::uint32_t>(digit);
    }
    return shard;
}

std::string shard_filter(const std::vector<std::uint32_t>& shards) {
    std::string out = std::string(kShardField) + " IN [";
    for (std::size_t i = 0; i < shards.size(); ++i) {
        if (i) out += ", ";
        out += std::to_string(shards[i]) + ", \"" + shard_value(shards[i]) + "\"";
    }
    return out + "]";
}

}  // namespace miroir::routing
