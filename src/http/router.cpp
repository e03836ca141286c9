// Segment-by-segment route matching; "{name}" captures one percent-decoded segment.
#include <miroir/http/router.hpp>

namespace miroir::http {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    std::size_t start = 1;  // skip the leading '/'
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        if (end > start) out.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

bool is_capture(std::string_view segment) {
    return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// Whether the path's segments fit the pattern's; captures are filled only when they do.
bool match_path(const std::vector<std::string>& want, const std::vector<std::string_view>& have,
                std::vector<std::pair<std::string, std::string>>* params) {
    if (want.size() != have.size()) return false;
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (!is_capture(want[i]) && want[i] != have[i]) return false;
    }
    if (params) {
        for (std::size_t i = 0; i < want.size(); ++i) {
            const std::string_view w = want[i];
            if (is_capture(w)) {
                params->emplace_back(std::string(w.substr(1, w.size() - 2)),
                                     percent_decode(have[i]));
            }
        }
    }
    return true;
}

}  // namespace

std::size_t Router::add(Method method, std::string pattern, Access access, Handler handler) {
    const auto id = routes_.size();
    std::vector<std::string> segments;
    for (const auto part : split_path(pattern)) segments.emplace_back(part);
    routes_.push_back(
        {method, std::move(pattern), access, {}, std::move(handler), id, std::move(segments)});
    return id;
}

std::size_t Router::add(Method method, std::string pattern, std::string action, Handler handler) {
    const auto id = add(method, std::move(pattern), Access::client, std::move(handler));
    routes_[id].action = std::move(action);
    return id;
}

Router::Match Router::match(Method method, std::string_view path) const {
    Match result;
    const auto have = split_path(path);
    for (const auto& route : routes_) {
        if (!match_path(route.segments, have, nullptr)) continue;
        result.path_exists = true;
        if (route.method != method) continue;
        result.route = &route;
        match_path(route.segments, have, &result.params);
        return result;
    }
    return result;
}

}  // namespace miroir::http
