// Meilisearch's textual forms of time.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <miroir/util/time.hpp>

namespace miroir::util {

Time now() { return std::chrono::system_clock::now(); }

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
}

std::string rfc3339(Time t) {
    using namespace std::chrono;
    const auto ns = duration_cast<nanoseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
    long frac = static_cast<long>(ns % 1'000'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    std::string out = buf;
    if (frac != 0) {
        char f[16];
        std::snprintf(f, sizeof f, ".%09ld", frac);
        std::string fs = f;
        while (fs.back() == '0') fs.pop_back();
        out += fs;
    }
    return out + "Z";
}

std::optional<Time> parse_date(std::string_view s, bool* date_only) {
    int y, mo, d, h = 0, mi = 0, sec = 0;
    long frac_ns = 0;
    int consumed = 0;
    const std::string str(s);
    if (std::sscanf(str.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3 || consumed != 10) {
        return std::nullopt;
    }
    std::size_t pos = 10;
    int offset_seconds = 0;
    if (date_only) *date_only = pos == str.size();
    if (pos < str.size()) {
        if (str[pos] != 'T' && str[pos] != 't' && str[pos] != ' ') return std::nullopt;
        if (std::sscanf(str.c_str() + pos + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &consumed) != 3 ||
            consumed != 8) {
            return std::nullopt;
        }
        pos += 9;
        if (pos < str.size() && str[pos] == '.') {
            ++pos;
            int digits = 0;
            while (pos < str.size() && std::isdigit(static_cast<unsigned char>(str[pos]))) {
                if (digits < 9) frac_ns = frac_ns * 10 + (str[pos] - '0');
                ++digits;
                ++pos;
            }
            if (digits == 0) return std::nullopt;
            for (int i = digits; i < 9; ++i) frac_ns *= 10;
        }
        if (pos == str.size()) return std::nullopt;  // a zone is required
        if (str[pos] == 'Z' || str[pos] == 'z') {
            ++pos;
        } else if (str[pos] == '+' || str[pos] == '-') {
            int oh, om;
            if (std::sscanf(str.c_str() + pos + 1, "%2d:%2d%n", &oh, &om, &consumed) != 2 ||
                consumed != 5) {
                return std::nullopt;
            }
            offset_seconds = (oh * 3600 + om * 60) * (str[pos] == '+' ? 1 : -1);
            pos += 6;
        }
        if (pos != str.size()) return std::nullopt;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    const std::time_t t = timegm(&tm) - offset_seconds;
    // the clock counts nanoseconds in 64 bits (years 1677 to 2262): dates beyond saturate
    using namespace std::chrono;
    const auto limit = duration_cast<seconds>(Time::duration::max()).count() - 1;
    if (t >= limit) return Time::max();
    if (t <= -limit) return Time::min();
    return system_clock::from_time_t(t) + nanoseconds(frac_ns);
}

std::string iso_duration(std::chrono::nanoseconds d) {
    const long long total = d.count();
    if (total < 0) return "";
    const long long day_ns = 86'400LL * 1'000'000'000LL;
    const long long days = total / day_ns;
    const long long rest = total % day_ns;
    std::string out = "P";
    if (days) out += std::to_string(days) + "D";
    if (rest == 0 && days) return out;
    const long long secs = rest / 1'000'000'000;
    const long long ns = rest % 1'000'000'000;
    out += "T" + std::to_string(secs);
    if (ns) {
        char buf[16];
        if (ns % 1'000'000 == 0) {
            std::snprintf(buf, sizeof buf, ".%03lld", ns / 1'000'000);
        } else if (ns % 1000 == 0) {
            std::snprintf(buf, sizeof buf, ".%06lld", ns / 1000);
        } else {
            std::snprintf(buf, sizeof buf, ".%09lld", ns);
        }
        out += buf;
    }
    return out + "S";
}

std::string debug_duration(std::chrono::nanoseconds d) {
    // Rust's Debug of a Duration with a precision of 2: the largest unit the value reaches,
    // two decimals, the third rounded half up (a carry may reach the integer part: "1000.00µs")
    const auto total = static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count()));
    std::uint64_t whole = 0, fraction = 0, divisor = 1;
    const char* unit = "ns";
    if (total >= 1'000'000'000) {
        whole = total / 1'000'000'000, fraction = total % 1'000'000'000, divisor = 100'000'000;
        unit = "s";
    } else if (total >= 1'000'000) {
        whole = total / 1'000'000, fraction = total % 1'000'000, divisor = 100'000, unit = "ms";
    } else if (total >= 1'000) {
        whole = total / 1'000, fraction = total % 1'000, divisor = 100, unit = "µs";
    } else {
        whole = total;
    }
    std::array<int, 2> digits{0, 0};
    std::size_t pos = 0;
    while (fraction > 0 && pos < digits.size()) {
        digits[pos++] = static_cast<int>(fraction / divisor);
        fraction %= divisor;
        divisor /= 10;
    }
    if (fraction > 0 && fraction >= divisor * 5) {
        bool carry = true;
        for (std::size_t i = pos; carry && i > 0; --i) {
            if (digits[i - 1] < 9) {
                ++digits[i - 1];
                carry = false;
            } else {
                digits[i - 1] = 0;
            }
        }
        if (carry) ++whole;
    }
    return std::to_string(whole) + "." + char('0' + digits[0]) + char('0' + digits[1]) + unit;
}

std::optional<double> parse_debug_duration(const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end == text.c_str()) return std::nullopt;
    const std::string unit(end);
    if (unit == "ns") return value;
    if (unit == "µs") return value * 1e3;
    if (unit == "ms") return value * 1e6;
    if (unit == "s") return value * 1e9;
    return std::nullopt;
}

}  // namespace miroir::util
