// task_store.url: the Redis server, or the Sentinels that know it, and how to talk to it.
#include <charconv>

#include <miroir/config/config.hpp>

namespace miroir::config {

namespace {

const std::string kWhere = "miroir.task_store.url";

ConfigError bad(const std::string& url, const std::string& why) {
    return ConfigError(kWhere + ": `" + url + "` " + why +
                       " (forms: redis://[[user]:password@]host[:port][/db], rediss:// for TLS, "
                       "redis+sentinel://host[:port][,host[:port]...]/master[/db])");
}

// %XX sequences of a user or password decoded.
std::string percent_decoded(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned value = 0;
        if (s[i] == '%' && i + 2 < s.size() &&
            std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16).ptr ==
                s.data() + i + 3) {
            out.push_back(static_cast<char>(value));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::uint32_t number(const std::string& url, std::string_view text, std::uint32_t max,
                     const std::string& what) {
    std::uint32_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > max) {
        throw bad(url, "has an invalid " + what + " `" + std::string(text) + "`");
    }
    return value;
}

// `host[:port]`, the host an IPv6 address in brackets or a name.
std::pair<std::string, std::uint16_t> host_port(const std::string& url, std::string_view text,
                                                std::uint16_t default_port) {
    std::string_view host = text;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos) throw bad(url, "has an unclosed IPv6 address");
        host = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) throw bad(url, "has text after an address");
        if (!rest.empty()) port = rest.substr(1);
    } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (host.empty()) throw bad(url, "names no host");
    const auto p = port.empty() && text.find(':') == std::string_view::npos
                       ? default_port
                       : static_cast<std::uint16_t>(number(url, port, 65535, "port"));
    if (p == 0) throw bad(url, "has port 0");
    return {std::string(host), p};
}

}  // namespace

RedisTarget parse_redis_url(const std::string& url) {
    RedisTarget out;
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) throw bad(url, "is not a Redis URL");
    const auto scheme = url.substr(0, scheme_end);
    if (scheme == "redis" || scheme == "rediss") {
        out.tls = scheme == "rediss";
    } else if (scheme == "redis+sentinel" || scheme == "rediss+sentinel") {
        out.tls = scheme == "rediss+sentinel";
        out.sentinel = true;
    } else {
        throw bad(url, "has an unknown scheme `" + scheme + "`");
    }
    std::string_view rest = std::string_view(url).substr(scheme_end + 3);
    if (const auto query = rest.find_first_of("?#"); query != std::string_view::npos) {
        throw bad(url, "has a query or fragment, which Miroir does not read");
    }
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);

    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        const auto credentials = authority.substr(0, at);
        authority = authority.substr(at + 1);
        const auto colon = credentials.find(':');
        out.username = percent_decoded(credentials.substr(0, colon));
        if (colon != std::string_view::npos) {
            out.password = percent_decoded(credentials.substr(colon + 1));
        }
    }
    const std::uint16_t default_port = out.sentinel ? 26379 : 6379;
    while (!authority.empty() || out.hosts.empty()) {
        const auto comma = authority.find(',');
        out.hosts.push_back(host_port(url, authority.substr(0, comma), default_port));
        if (comma == std::string_view::npos) break;
        authority = authority.substr(comma + 1);
    }
    if (!out.sentinel && out.hosts.size() > 1) {
        throw bad(url, "names several hosts: only a redis+sentinel URL may");
    }

    if (out.sentinel) {
        const auto next = path.find('/');
        out.master = std::string(path.substr(0, next));
        if (out.master.empty()) throw bad(url, "names no master (redis+sentinel://.../master)");
        path = next == std::string_view::npos ? "" : path.substr(next + 1);
    }
    if (!path.empty()) out.db = number(url, path, 1 << 20, "database number");
    return out;
}

}  // namespace miroir::config
