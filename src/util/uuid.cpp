// Random UUIDs from a per-thread generator seeded by the system.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <random>

#include <miroir/util/uuid.hpp>

namespace miroir::util {

std::string random_uuid() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uint64_t hi = rng(), lo = rng();
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
    char buf[37];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                  static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                  static_cast<unsigned>(lo >> 48),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return buf;
}

namespace {

bool hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// 32 digits, or 8-4-4-4-12 with hyphens: the lowercase hyphenated form, else empty.
std::string well_formed(std::string_view s) {
    std::string digits;
    if (s.size() == 32) {
        if (!std::all_of(s.begin(), s.end(), hex)) return {};
        digits = s;
    } else if (s.size() == 36) {
        for (std::size_t i = 0; i < s.size(); ++i) {
            const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash ? s[i] != '-' : !hex(s[i])) return {};
            if (!dash) digits += s[i];
        }
    } else {
        return {};
    }
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(digits[i])));
    }
    return out;
}

// Why `text` is no UUID, as the `uuid` crate explains it (`InvalidUuid::into_err`).
std::string why_not(std::string_view text) {
    if (text.empty() || text.size() > 45)
        return "invalid length: found " + std::to_string(text.size());
    std::size_t start = 0, end = text.size();
    enum class Format { any, hyphenated, other } format = Format::any;
    if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
        start = 1, end = text.size() - 1, format = Format::other;
    } else if (text.size() >= 9 &&
               std::equal(text.begin(), text.begin() + 9, "urn:uuid:", [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) == b;
               })) {
        start = 9, format = Format::other;
    }
    std::size_t hyphens = 0;
    std::size_t bounds[4] = {0, 0, 0, 0};
    for (std::size_t i = start; i < end;) {
        const char c = text[i];
        if (hex(c)) {
            ++i;
            continue;
        }
        if (c == '-') {
            if (format == Format::any) format = Format::hyphenated;
            if (hyphens < 4) bounds[hyphens] = i - start;
            ++hyphens, ++i;
            continue;
        }
        // the whole character (UTF-8), at its byte index
        std::size_t len = 1;
        const auto lead = static_cast<unsigned char>(c);
        if (lead >= 0xF0)
            len = 4;
        else if (lead >= 0xE0)
            len = 3;
        else if (lead >= 0xC0)
            len = 2;
        return "invalid character: found `" + std::string(text.substr(i, len)) + "` at " +
               std::to_string(i);
    }
    if (format == Format::any) return "invalid length: found " + std::to_string(text.size());
    if (hyphens != 4)
        return "invalid group count: expected 5, found " + std::to_string(hyphens + 1);
    constexpr std::size_t starts[5] = {0, 9, 14, 19, 24};
    constexpr std::size_t expected[5] = {8, 4, 4, 4, 12};
    for (std::size_t g = 0; g < 4; ++g) {
        if (bounds[g] != starts[g + 1] - 1) {
            return "invalid group length in group " + std::to_string(g) + ": expected " +
                   std::to_string(expected[g]) + ", found " + std::to_string(bounds[g] - starts[g]);
        }
    }
    return "invalid group length in group 4: expected 12, found " +
           std::to_string(end - start - starts[4]);
}

}  // namespace

ParsedUuid parse_uuid(std::string_view text) {
    std::string_view inner = text;
    if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
        inner = text.substr(1, 36);
    } else if (text.size() == 45 && text.substr(0, 9) == "urn:uuid:") {
        inner = text.substr(9);
    }
    if (text.size() == 38 || text.size() == 45) {
        if (inner.size() != 36) return {{}, why_not(text)};
    }
    auto uuid = well_formed(inner);
    if (!uuid.empty()) return {std::move(uuid), {}};
    return {{}, why_not(text)};
}

}  // namespace miroir::util
