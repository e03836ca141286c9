// The operator subcommands' client: options, one admin API request over a plain synchronous
// Beast client, Miroir's errors.
#include "client.hpp"

#include <cstdlib>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <miroir/config/config.hpp>

namespace miroir::cli {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

}  // namespace

Options parse(const std::vector<std::string>& args, Accepts accepts) {
    const bool verify = accepts.verify;
    Options o;
    std::optional<std::string> url, key;
    std::string config_path = env("MIROIR_CONFIG").empty() ? "miroir.yaml" : env("MIROIR_CONFIG");
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        auto value = [&](const std::string& name) {
            if (a.starts_with(name + "=")) return a.substr(name.size() + 1);
            if (i + 1 >= args.size()) throw UsageError{name + " needs a value"};
            return args[++i];
        };
        if (a.starts_with("--url")) {
            url = value("--url");
        } else if (a.starts_with("--admin-key")) {
            key = value("--admin-key");
        } else if (a.starts_with("--config")) {
            config_path = value("--config");
        } else if (a == "--json") {
            o.as_json = true;
        } else if ((verify || accepts.index) && a.starts_with("--index")) {
            o.index = value("--index");
        } else if (verify && a == "--counts-only") {
            o.counts_only = true;
        } else if (accepts.group && a.starts_with("--group")) {
            o.group = value("--group");
        } else if (accepts.wait && a == "--wait") {
            o.wait = true;
        } else if (accepts.replace && a == "--replace") {
            o.replace = true;
        } else if (accepts.reshard && a.starts_with("--new-shards")) {
            o.new_shards = value("--new-shards");
        } else if (accepts.reshard && a.starts_with("--throttle")) {
            o.throttle = value("--throttle");
        } else if (accepts.reshard && a.starts_with("--retain-hours")) {
            o.retain_hours = value("--retain-hours");
        } else if (accepts.explain && a == "--execute") {
            o.execute = true;
        } else if (accepts.explain && a.starts_with("--key")) {
            o.key = value("--key");
        } else if (!a.starts_with("-") &&
                   o.positional.size() < accepts.positional + accepts.optional) {
            o.positional.push_back(a);
        } else {
            throw UsageError{"unknown argument `" + a + "`"};
        }
    }
    if (o.positional.size() < accepts.positional) throw UsageError{"missing arguments"};
    if (!url && !env("MIROIR_URL").empty()) url = env("MIROIR_URL");
    if (!key && !env("MIROIR_ADMIN_API_KEY").empty()) key = env("MIROIR_ADMIN_API_KEY");
    if (!key && !env("MIROIR_MASTER_KEY").empty()) key = env("MIROIR_MASTER_KEY");
    if (!url || !key) {
        // the configuration, when there is one, says where Miroir listens and its key
        try {
            const auto config = config::load_file(config_path);
            const auto host = config.server.bind == "0.0.0.0" || config.server.bind == "::"
                                  ? std::string("127.0.0.1")
                                  : config.server.bind;
            if (!url) url = "http://" + host + ":" + std::to_string(config.server.port);
            if (!key) key = config.effective_admin_key();
        } catch (const config::ConfigError&) {
        }
    }
    o.url = url.value_or("http://127.0.0.1:7700");
    o.admin_key = key.value_or("");
    if (o.key) o.admin_key = *o.key;
    return o;
}

namespace {

// One request with any body type, answered.
template <class Body>
Answer exchange(const Options& o, bhttp::request<Body>& req) {
    const auto parsed = boost::urls::parse_uri(o.url);
    if (!parsed || parsed->scheme() != "http") {
        throw std::runtime_error("--url must be an http:// address, not `" + o.url + "`");
    }
    const std::string host = parsed->host();
    const std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.connect(resolver.resolve(host, port));
    // blocking calls ignore the stream's timer: the socket's own timeouts bound them (verify
    // reads every document of every node, hence minutes)
    const timeval limit{600, 0};
    const int fd = stream.socket().native_handle();
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    req.set(bhttp::field::host, host + ":" + port);
    req.set(bhttp::field::user_agent, "miroir-cli");
    if (!o.admin_key.empty()) req.set(bhttp::field::authorization, "Bearer " + o.admin_key);
    req.prepare_payload();
    // an answer sent before the whole body (a refused key, a body too large) is still read
    beast::error_code write_error;
    bhttp::write(stream, req, write_error);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);  // a report on many indexes may be large
    beast::error_code read_error;
    bhttp::read(stream, buffer, parser, read_error);
    if (read_error) throw beast::system_error(write_error ? write_error : read_error);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    auto& res = parser.get();
    return {res.result_int(), json::parse(res.body(), nullptr, false)};
}

}  // namespace

Answer send(const Options& o, bhttp::verb method, const std::string& target,
            const std::string& body) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    return exchange(o, req);
}

Answer send_file(const Options& o, const std::string& target, const std::string& path,
                 const std::string& content_type) {
    bhttp::request<bhttp::file_body> req{bhttp::verb::post, target, 11};
    beast::error_code ec;
    req.body().open(path.c_str(), beast::file_mode::scan, ec);
    if (ec) throw std::runtime_error("cannot read " + path + ": " + ec.message());
    req.set(bhttp::field::content_type, content_type);
    return exchange(o, req);
}

Answer get(const Options& o, const std::string& target) {
    return send(o, bhttp::verb::get, target);
}

std::string text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::runtime_error failure(const Answer& a) {
    if (a.body.is_object() && a.body.contains("message")) {
        return std::runtime_error(text(a.body["message"]));
    }
    return std::runtime_error("Miroir answered " + std::to_string(a.status));
}

}  // namespace miroir::cli
