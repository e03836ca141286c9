#include <algorithm>
#include <atomic>
#include <chrono>

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

namespace {

constexpr std::size_t kStampDigits = 16;

void append_digits(std::string& out, std::string_view digits) {
    for (const char digit : digits) out.push_back(kShardDigits[digit - '0']);
}

std::optional<std::uint64_t> number_of(std::string_view encoded) {
    if (encoded.empty() || encoded.size() > 19) return std::nullopt;
    std::uint64_t n = 0;
    for (const char c : encoded) {
        const auto digit = kShardDigits.find(c);
        if (digit == std::string_view::npos) return std::nullopt;
        n = n * 10 + digit;
    }
    return n;
}

}  // namespace

std::string unexpired_filter(std::int64_t now) {
    const std::string field(kExpiresField);
    return "(" + field + " NOT EXISTS OR " + field + " > " + std::to_string(now) + ")";
}

std::string expired_filter(std::int64_t now) {
    return std::string(kExpiresField) + " <= " + std::to_string(now);
}

std::string ord_value(Ord ord) {
    std::string stamp = std::to_string(ord.stamp);
    if (stamp.size() < kStampDigits) stamp.insert(0, kStampDigits - stamp.size(), '0');
    std::string out;
    out.reserve(stamp.size() + 8);
    append_digits(out, stamp);
    append_digits(out, std::to_string(ord.position));
    return out;
}

std::optional<Ord> ord_of_value(std::string_view value) {
    if (value.size() <= kStampDigits) return std::nullopt;
    const auto stamp = number_of(value.substr(0, kStampDigits));
    const auto position = number_of(value.substr(kStampDigits));
    if (!stamp || !position) return std::nullopt;
    return Ord{*stamp, *position};
}

void add_place(std::vector<std::string>& fields) {
    for (const auto& f : fields) {
        if (f == "*" || f == kOrdField) return;
    }
    fields.emplace_back(kOrdField);
}

std::uint64_t next_stamp() {
    static std::atomic<std::uint64_t> last{0};
    const auto now =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    auto prev = last.load(std::memory_order_relaxed);
    std::uint64_t next = 0;
    do {
        next = std::max(now, prev + 1);
    } while (!last.compare_exchange_weak(prev, next, std::memory_order_relaxed));
    return next;
}

}  // namespace miroir::routing
