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

bool match_path(std::string_view pattern, std::string_view path,
                std::vector<std::pair<std::string, std::string>>* params) {
    const auto want = split_path(pattern);
    const auto have = split_path(path);
    if (want.size() != have.size()) return false;
    for (std::size_t i = 0; i < want.size(); ++i) {
        const auto w = want[i];
        if (w.size() >= 2 && w.front() == '{' && w.back() == '}') {
            if (params) {
                params->emplace_back(std::string(w.substr(1, w.size() - 2)),
                                     percent_decode(have[i]));
            }
        } else if (w != have[i]) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::size_t Router::add(Method method, std::string pattern, Access access, Handler handler) {
    const auto id = routes_.size();
    routes_.push_back({method, std::move(pattern), access, std::move(handler), id});
    return id;
}

Router::Match Router::match(Method method, std::string_view path) const {
    Match result;
    for (const auto& route : routes_) {
        if (!match_path(route.pattern, path, nullptr)) continue;
        result.path_exists = true;
        if (route.method != method) continue;
        result.route = &route;
        match_path(route.pattern, path, &result.params);
        return result;
    }
    return result;
}

}  // namespace miroir::http
