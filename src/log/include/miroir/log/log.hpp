// Structured logging on top of spdlog: a message plus typed fields, printed as readable
// `key=value` text (default) or as one JSON object per line (--log-format json).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace miroir::log {

enum class Format { text, json };
enum class Level { debug, info, warn, error };

// Parses "text"/"json" and "debug"/"info"/"warn"/"error"; false when unknown.
bool parse_format(std::string_view s, Format& out);
bool parse_level(std::string_view s, Level& out);

void init(Format format, Level level);

struct Field {
    using Value = std::variant<std::string_view, std::int64_t, double, bool>;
    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
    Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    Field(std::string_view k, std::int64_t v) : key(k), value(v) {}
    Field(std::string_view k, int v) : key(k), value(std::int64_t{v}) {}
    Field(std::string_view k, unsigned v) : key(k), value(std::int64_t{v}) {}
    Field(std::string_view k, double v) : key(k), value(v) {}
    Field(std::string_view k, bool v) : key(k), value(v) {}
    std::string_view key;
    Value value;
};
using Fields = std::initializer_list<Field>;

// The lines written to stderr: those at or above `level`, or none (nullopt); init sets it.
void set_stderr_threshold(std::optional<Level> level);

// A second destination for the lines while a client streams them (the /logs/stream route), in
// the shapes of Meilisearch's own stream: `tracing`'s text lines (human) or JSON objects, each
// line ending with a newline. Lines at or above `level` are given to `sink` on the thread that
// logs them (it must neither block nor log). Replaces any other tap; returns its number, for
// clear_tap.
enum class TapFormat { human, json };
std::uint64_t set_tap(Level level, TapFormat format, std::function<void(std::string)> sink);
// Removes tap `id` if it is still the tap.
void clear_tap(std::uint64_t id);

bool enabled(Level level);
void write(Level level, std::string_view message, Fields fields);

inline void debug(std::string_view m, Fields f = {}) { write(Level::debug, m, f); }
inline void info(std::string_view m, Fields f = {}) { write(Level::info, m, f); }
inline void warn(std::string_view m, Fields f = {}) { write(Level::warn, m, f); }
inline void error(std::string_view m, Fields f = {}) { write(Level::error, m, f); }

}  // namespace miroir::log
