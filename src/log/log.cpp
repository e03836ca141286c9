// Structured log lines through one spdlog logger writing to stderr.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <miroir/log/log.hpp>

namespace miroir::log {

namespace {

std::atomic<Format> g_format{Format::text};
std::atomic<Level> g_level{Level::info};
std::atomic<bool> g_stderr_off{false};

struct Tap {
    std::uint64_t id;
    Level level;
    TapFormat format;
    std::function<void(std::string)> sink;
};
std::atomic<int> g_tap_level{-1};  // the tap's level, -1 without a tap
std::mutex g_tap_mutex;
std::shared_ptr<const Tap> g_tap;
std::uint64_t g_tap_ids = 0;

spdlog::logger& logger() {
    static auto instance = [] {
        auto l = std::make_shared<spdlog::logger>(
            "miroir", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        l->set_level(spdlog::level::trace);
        l->set_pattern("%v");
        l->flush_on(spdlog::level::trace);
        return l;
    }();
    return *instance;
}

spdlog::level::level_enum to_spdlog(Level level) {
    switch (level) {
        case Level::debug:
            return spdlog::level::debug;
        case Level::info:
            return spdlog::level::info;
        case Level::warn:
            return spdlog::level::warn;
        case Level::error:
            return spdlog::level::err;
    }
    return spdlog::level::info;
}

std::string_view level_name(Level level) {
    switch (level) {
        case Level::debug:
            return "debug";
        case Level::info:
            return "info";
        case Level::warn:
            return "warn";
        case Level::error:
            return "error";
    }
    return "info";
}

// RFC 3339 UTC with milliseconds, or microseconds (as `tracing` writes it).
std::string timestamp(bool micro = false) {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto us = duration_cast<microseconds>(now.time_since_epoch()).count() % 1000000;
    const std::time_t t = system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(
        buf, sizeof buf,
        micro ? "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" : "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        static_cast<int>(micro ? us : us / 1000));
    return buf;
}

bool needs_quotes(std::string_view s) {
    if (s.empty()) return true;
    for (char c : s) {
        if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
    }
    return false;
}

// `s` as a JSON string: printable ASCII as it is, anything else through nlohmann (escapes,
// invalid UTF-8 replaced).
void append_json_string(std::string& out, std::string_view s) {
    const bool plain = std::all_of(
        s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (plain) {
        out += '"';
        out += s;
        out += '"';
        return;
    }
    out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// `fields` as JSON members, each `,"key":value`.
void append_json_fields(std::string& line, Fields fields) {
    for (const auto& f : fields) {
        line += ',';
        append_json_string(line, f.key);
        line += ':';
        std::visit(
            [&](const auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, std::string_view>) {
                    append_json_string(line, v);
                } else if constexpr (std::is_same_v<T, bool>) {
                    line += v ? "true" : "false";
                } else {
                    line += nlohmann::json(v).dump();  // numbers as JSON writes them
                }
            },
            f.value);
    }
}

// `fields` as text, each ` key=value` (a value quoted when it needs it).
void append_text_fields(std::string& line, Fields fields) {
    for (const auto& f : fields) {
        line += ' ';
        line += f.key;
        line += '=';
        std::visit(
            [&](const auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, std::string_view>) {
                    if (needs_quotes(v))
                        append_json_string(line, v);
                    else
                        line += v;
                } else if constexpr (std::is_same_v<T, bool>) {
                    line += v ? "true" : "false";
                } else {
                    line += std::to_string(v);
                }
            },
            f.value);
    }
}

bool stderr_enabled(Level level) {
    return !g_stderr_off.load(std::memory_order_relaxed) &&
           level >= g_level.load(std::memory_order_relaxed);
}

// A line as `tracing`'s formatter writes it: `2024-10-08T13:35:02.643750Z  INFO miroir:
// message key=value`, or `{"timestamp":…,"level":"INFO","fields":{"message":…,…},"target":
// "miroir"}`.
std::string tap_line(TapFormat format, Level level, std::string_view message, Fields fields) {
    static constexpr std::string_view kUpper[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    const auto upper = kUpper[static_cast<int>(level)];
    std::string line;
    if (format == TapFormat::json) {
        line = "{\"timestamp\":";
        append_json_string(line, timestamp(true));
        line += ",\"level\":";
        append_json_string(line, upper);
        line += ",\"fields\":{\"message\":";
        append_json_string(line, message);
        append_json_fields(line, fields);
        line += "},\"target\":\"miroir\"}\n";
        return line;
    }
    line = timestamp(true);
    line.append(6 - upper.size(), ' ');
    line += upper;
    line += " miroir: ";
    line += message;
    append_text_fields(line, fields);
    line += '\n';
    return line;
}

}  // namespace

bool parse_format(std::string_view s, Format& out) {
    if (s == "text")
        out = Format::text;
    else if (s == "json")
        out = Format::json;
    else
        return false;
    return true;
}

bool parse_level(std::string_view s, Level& out) {
    if (s == "debug")
        out = Level::debug;
    else if (s == "info")
        out = Level::info;
    else if (s == "warn" || s == "warning")
        out = Level::warn;
    else if (s == "error")
        out = Level::error;
    else
        return false;
    return true;
}

void init(Format format, Level level) {
    g_format = format;
    g_level = level;
}

void set_stderr_threshold(std::optional<Level> level) {
    if (level) g_level = *level;
    g_stderr_off = !level;
}

std::uint64_t set_tap(Level level, TapFormat format, std::function<void(std::string)> sink) {
    std::lock_guard lock(g_tap_mutex);
    g_tap = std::make_shared<const Tap>(Tap{++g_tap_ids, level, format, std::move(sink)});
    g_tap_level = static_cast<int>(level);
    return g_tap_ids;
}

void clear_tap(std::uint64_t id) {
    std::lock_guard lock(g_tap_mutex);
    if (!g_tap || g_tap->id != id) return;
    g_tap.reset();
    g_tap_level = -1;
}

bool enabled(Level level) {
    const int tap = g_tap_level.load(std::memory_order_relaxed);
    return (tap >= 0 && static_cast<int>(level) >= tap) || stderr_enabled(level);
}

void write(Level level, std::string_view message, Fields fields) {
    const int tap_level = g_tap_level.load(std::memory_order_relaxed);
    if (tap_level >= 0 && static_cast<int>(level) >= tap_level) {
        std::shared_ptr<const Tap> tap;
        {
            std::lock_guard lock(g_tap_mutex);
            tap = g_tap;
        }
        if (tap && level >= tap->level) tap->sink(tap_line(tap->format, level, message, fields));
    }
    if (!stderr_enabled(level)) return;
    std::string line;
    if (g_format.load(std::memory_order_relaxed) == Format::json) {
        // written directly, in this order: one line per request is on every request's path
        line = "{\"ts\":";
        append_json_string(line, timestamp());
        line += ",\"level\":";
        append_json_string(line, level_name(level));
        line += ",\"msg\":";
        append_json_string(line, message);
        append_json_fields(line, fields);
        line += '}';
    } else {
        line = timestamp();
        line += ' ';
        line += level_name(level);
        line += ' ';
        line += message;
        append_text_fields(line, fields);
    }
    logger().log(to_spdlog(level), "{}", line);
}

}  // namespace miroir::log
