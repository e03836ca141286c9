#include <algorithm>
#include <cctype>
#include <vector>

#include <miroir/log/targets.hpp>

namespace miroir::log {

namespace {

// tracing's LevelFilter: 0 off .. 5 trace, by name (any case) or number; "" is error.
std::optional<int> level_filter(std::string_view s) {
    static constexpr std::string_view kNames[] = {"off", "error", "warn", "info", "debug", "trace"};
    if (s.empty()) return 1;
    if (s.size() == 1 && s[0] >= '0' && s[0] <= '5') return s[0] - '0';
    for (int i = 0; i < 6; ++i) {
        const auto& name = kNames[i];
        if (s.size() == name.size() &&
            std::equal(s.begin(), s.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == b;
            })) {
            return i;
        }
    }
    return std::nullopt;
}

constexpr std::string_view kLevelError =
    "error parsing level filter: expected one of \"off\", \"error\", \"warn\", \"info\", "
    "\"debug\", \"trace\", or a number 0-5";

struct Directive {
    std::optional<std::string> target;
    int level = 5;
};

// One directive, or the message tracing_subscriber refuses it with.
std::variant<Directive, std::string> directive(std::string_view s) {
    const auto eq = s.find('=');
    if (eq == std::string_view::npos) {
        if (const auto level = level_filter(s)) return Directive{std::nullopt, *level};
        return Directive{std::string(s), 5};
    }
    if (s.find('=', eq + 1) != std::string_view::npos) {
        return std::string(
            "invalid filter directive: too many '=' in filter directive, "
            "expected 0 or 1");
    }
    std::string_view target = s.substr(0, eq);
    if (const auto fields = target.find("[{"); fields != std::string_view::npos) {
        const auto rest = target.substr(fields + 2);
        if (rest.find("[{") != std::string_view::npos) {
            return std::string(
                "invalid filter directive: too many '[{' in filter directive, "
                "expected 0 or 1");
        }
        if (!target.ends_with("}]")) {
            return std::string("invalid filter directive: expected fields list to end with '}]'");
        }
        target = target.substr(0, fields);
    }
    const auto level = level_filter(s.substr(eq + 1));
    if (!level) return std::string(kLevelError);
    return Directive{std::string(target), *level};
}

Threshold threshold_of(int level_filter) {
    switch (level_filter) {
        case 0:
            return std::nullopt;
        case 1:
            return Level::error;
        case 2:
            return Level::warn;
        case 3:
            return Level::info;
        default:
            return Level::debug;
    }
}

}  // namespace

std::variant<Threshold, std::string> parse_targets(std::string_view text) {
    if (text.empty()) {
        return std::string(
            "Empty string is not a valid target. If you want to get no logs use `OFF`. Usage: "
            "`info`, `meilisearch=info`, or you can write multiple filters in one target: "
            "`index_scheduler=info,milli=trace`");
    }
    std::vector<Directive> directives;
    std::size_t start = 0;
    for (;;) {
        const auto comma = text.find(',', start);
        auto parsed = directive(text.substr(start, comma - start));
        if (auto* message = std::get_if<std::string>(&parsed)) return std::move(*message);
        directives.push_back(std::get<Directive>(std::move(parsed)));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    // the most specific directive matching Miroir's target: the longest target, a bare level
    // last
    const Directive* best = nullptr;
    for (const auto& d : directives) {
        if (d.target && !kTarget.starts_with(*d.target)) continue;
        const std::size_t length = d.target ? d.target->size() + 1 : 0;
        const std::size_t best_length = best && best->target ? best->target->size() + 1 : 0;
        if (!best || length >= best_length) best = &d;
    }
    if (!best) return Threshold{};
    return threshold_of(best->level);
}

}  // namespace miroir::log
