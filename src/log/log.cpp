// Structured log lines through one spdlog logger writing to stderr.
#include <algorithm>
#include <atomic>
#include <chrono>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <miroir/log/log.hpp>

namespace miroir::log {

namespace {

std::atomic<Format> g_format{Format::text};
std::atomic<Level> g_level{Level::info};

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

// RFC 3339 UTC with milliseconds.
std::string timestamp() {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    const std::time_t t = system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
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

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view message, Fields fields) {
    if (!enabled(level)) return;
    std::string line;
    if (g_format.load(std::memory_order_relaxed) == Format::json) {
        // written directly, in this order: one line per request is on every request's path
        line = "{\"ts\":";
        append_json_string(line, timestamp());
        line += ",\"level\":";
        append_json_string(line, level_name(level));
        line += ",\"msg\":";
        append_json_string(line, message);
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
        line += '}';
    } else {
        line = timestamp();
        line += ' ';
        line += level_name(level);
        line += ' ';
        line += message;
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
    logger().log(to_spdlog(level), "{}", line);
}

}  // namespace miroir::log
