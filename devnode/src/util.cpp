// Helpers of the development node.
#include "util.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace devnode {

Time now() { return std::chrono::system_clock::now(); }

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
    return std::chrono::system_clock::from_time_t(t) + std::chrono::nanoseconds(frac_ns);
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

std::string percent_decode(std::string_view s, bool plus_is_space) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::vector<std::string> split_csv(std::string_view s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        auto end = s.find(',', start);
        if (end == std::string_view::npos) end = s.size();
        std::string item(s.substr(start, end - start));
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        out.push_back(std::move(item));
        start = end + 1;
    }
    return out;
}

std::string snake_case(std::string_view camel) {
    std::string out;
    for (char c : camel) {
        if (std::isupper(static_cast<unsigned char>(c))) {
            out += '_';
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else {
            out += c;
        }
    }
    return out;
}

std::string backquoted_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += ", ";
        out += "`" + item + "`";
    }
    return out;
}

Query::Query(std::string_view raw, const std::vector<std::string_view>& allowed) : raw_(raw) {
    std::size_t start = 0;
    while (start <= raw.size() && !raw.empty()) {
        auto end = raw.find('&', start);
        if (end == std::string_view::npos) end = raw.size();
        const auto part = raw.substr(start, end - start);
        if (!part.empty()) {
            const auto eq = part.find('=');
            auto name = percent_decode(part.substr(0, eq), true);
            auto value = eq == std::string_view::npos ? std::string()
                                                      : percent_decode(part.substr(eq + 1), true);
            if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
                std::vector<std::string> names(allowed.begin(), allowed.end());
                throw bad_request("Unknown parameter `" + name + "`: expected one of " +
                                  backquoted_list(names));
            }
            values_[name] = std::move(value);
        }
        start = end + 1;
    }
}

std::optional<std::string> Query::get(std::string_view name) const {
    auto it = values_.find(std::string(name));
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::uint64_t> Query::get_uint(std::string_view name, const std::string& code) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    const bool ok = !v->empty() && v->size() < 20 &&
                    std::all_of(v->begin(), v->end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!ok) {
        throw error(400, code,
                    "Invalid value in parameter `" + std::string(name) + "`: could not parse `" +
                        *v + "` as a positive integer");
    }
    return std::stoull(*v);
}

std::optional<bool> Query::get_bool(std::string_view name, const std::string& code) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    std::string lower = *v;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == "true") return true;
    if (lower == "false") return false;
    throw error(400, code,
                "Invalid value in parameter `" + std::string(name) + "`: could not parse `" + *v +
                    "` as a boolean, expected either `true` or `false`");
}

ApiError bad_request(std::string message) {
    return ApiError(400, "bad_request", ErrorType::invalid_request, std::move(message));
}

ApiError error(unsigned status, std::string code, std::string message, ErrorType type) {
    return ApiError(status, std::move(code), type, std::move(message));
}

json json_body(const miroir::http::Request& request) {
    const auto type = request.headers.get("Content-Type");
    const std::string accepted =
        "Accepted values for the Content-Type header are: `application/json`";
    if (!type) {
        throw error(415, "missing_content_type", "A Content-Type header is missing. " + accepted);
    }
    const auto base = type->substr(0, type->find(';'));
    if (base != "application/json") {
        throw error(415, "invalid_content_type",
                    "The Content-Type `" + std::string(*type) + "` is invalid. " + accepted);
    }
    if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
        throw error(400, "missing_payload", "A json payload is missing.");
    }
    try {
        return json::parse(request.body);
    } catch (const json::parse_error& e) {
        throw error(400, "malformed_payload",
                    std::string("The json payload provided is malformed. `") + e.what() + "`.");
    }
}

miroir::http::Response respond(unsigned status, const json& body) {
    return miroir::http::Response::json(
        status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace devnode
