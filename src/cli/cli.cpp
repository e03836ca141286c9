// Operator subcommands: options, one admin API request over a plain synchronous Beast client,
// and a short text rendering of the answer.
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include <miroir/cli/cli.hpp>
#include <miroir/config/config.hpp>

namespace miroir::cli {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using json = nlohmann::ordered_json;

constexpr const char* kUsage = R"(Usage:
  miroir status                          [CONNECTION] [--json]
  miroir nodes list                      [CONNECTION] [--json]
  miroir nodes add ID ADDRESS [--group N] [CONNECTION]
  miroir nodes drain ID                  [CONNECTION]
  miroir nodes remove ID                 [CONNECTION]
  miroir rebalance [--wait]              [CONNECTION] [--json]
  miroir verify                          [CONNECTION] [--index UID] [--counts-only] [--json]
  miroir aliases list                    [CONNECTION] [--json]
  miroir aliases create NAME TARGET      [CONNECTION]
  miroir aliases flip NAME TARGET        [CONNECTION]
  miroir aliases delete NAME             [CONNECTION]
  miroir explain INDEX [QUERY] [--execute] [--key KEY] [CONNECTION] [--json]
  miroir anti-entropy run [--index UID] [--wait] [CONNECTION]
  miroir anti-entropy status             [CONNECTION] [--json]

CONNECTION:
  --url URL          Miroir's address (default: $MIROIR_URL, else server.bind and server.port
                     of the configuration file, else http://127.0.0.1:7700)
  --admin-key KEY    the admin key (default: $MIROIR_ADMIN_API_KEY, else $MIROIR_MASTER_KEY,
                     else the configuration's)
  --config FILE      configuration file to read them from (default: $MIROIR_CONFIG, else
                     ./miroir.yaml; optional)

A node is added as joining and drained in place; `rebalance` then moves the shards (with
--wait, until every group is balanced, printing progress). A node is removed once it holds
nothing. verify exits 1 when a shard is missing from an owner, the owners of a shard disagree
on its documents, or a node holds documents of a shard it does not own; rebalance --wait exits
1 when the rebalance stops on an error.
An alias's TARGET is one index uid, or several separated by commas (searched together,
read-only); a flip answers once every Miroir sharing the task store resolves the new target.
explain prints how Miroir would run the search QUERY (a JSON search body, default {}) on
INDEX: the group and nodes it asks, the shards and hits asked of each, and warnings; with
--execute it runs it too and times each node. --key is a key with `search` on INDEX (default:
the admin key).
anti-entropy run asks for a pass over INDEX (every index without --index) comparing the
replicas of each shard and repairing what differs; with --wait it prints progress until the
pass ends, and exits 1 when it failed.
)";

struct Options {
    std::string url;
    std::string admin_key;
    std::optional<std::string> index;
    bool counts_only = false;
    bool as_json = false;
    std::vector<std::string> positional;
    std::optional<std::string> group;
    bool wait = false;
    bool execute = false;
    std::optional<std::string> key;
};

// The flags a command takes beyond the connection's and --json.
struct Accepts {
    bool verify = false;   // --index, --counts-only
    bool index = false;    // --index
    bool group = false;    // --group
    bool wait = false;     // --wait
    bool explain = false;  // --execute, --key
    std::size_t positional = 0;
    std::size_t optional = 0;  // positional arguments that may be left out
};

struct UsageError {
    std::string message;
};

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

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

struct Answer {
    unsigned status = 0;
    json body;
};

// One request to Miroir; throws std::runtime_error when it cannot be reached.
Answer send(const Options& o, bhttp::verb method, const std::string& target,
            const std::string& body = "") {
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
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, host + ":" + port);
    req.set(bhttp::field::user_agent, "miroir-cli");
    if (!o.admin_key.empty()) req.set(bhttp::field::authorization, "Bearer " + o.admin_key);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);  // a report on many indexes may be large
    bhttp::read(stream, buffer, parser);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    auto& res = parser.get();
    return {res.result_int(), json::parse(res.body(), nullptr, false)};
}

Answer get(const Options& o, const std::string& target) {
    return send(o, bhttp::verb::get, target);
}

std::string text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Miroir's error message, or what it answered when that is not an error object.
std::runtime_error failure(const Answer& a) {
    if (a.body.is_object() && a.body.contains("message")) {
        return std::runtime_error(text(a.body["message"]));
    }
    return std::runtime_error("Miroir answered " + std::to_string(a.status));
}

// One line on the rebalance: what it moves and how far it is.
std::string progress(const json& status) {
    const auto& r = status.value("rebalance", json());
    const auto state = status.value("state", "");
    std::ostringstream out;
    if (r.is_null()) {
        out << "rebalance: none yet, "
            << (status.value("balanced", false) ? "balanced" : "unbalanced");
        return out.str();
    }
    out << "rebalance " << text(r["id"]) << " (group " << text(r["group"]) << "): " << state << ", "
        << text(r["phase"]) << ", " << text(r["shardsCopied"]) << "/" << text(r["shardsMoving"])
        << " shards copied, " << text(r["documentsCopied"]) << " documents, "
        << text(r["copiesMoved"]) << " copies moved (fewest possible " << text(r["minimumCopies"])
        << ")";
    if (!r.value("error", json()).is_null()) out << "; error: " << text(r["error"]);
    if (state == "idle") out << (status.value("balanced", false) ? "; balanced" : "; unbalanced");
    return out.str();
}

int status(const Options& o, bool nodes_only) {
    const auto a = get(o, "/_miroir/topology");
    if (a.status != 200) throw failure(a);
    if (o.as_json) {
        std::cout << (nodes_only ? a.body["nodes"] : a.body).dump(2) << "\n";
        return 0;
    }
    if (!nodes_only) {
        std::cout << "shards " << text(a.body["shards"]) << ", replication factor "
                  << text(a.body["replicationFactor"]) << "\n";
        for (const auto& g : a.body["groups"]) {
            std::cout << "group " << text(g["id"]) << ": "
                      << (g.value("complete", false) ? "serves every shard"
                                                     : "cannot serve every shard")
                      << "\n";
        }
    }
    for (const auto& n : a.body["nodes"]) {
        std::cout << (nodes_only ? "" : "  ") << text(n["id"]) << "  " << text(n["address"])
                  << "  group " << text(n["group"]) << "  " << text(n["role"]) << "  "
                  << text(n["state"]) << "  " << text(n["shards"]) << " shards\n";
    }
    if (!nodes_only) {
        const auto& missing = a.body["unavailableShards"];
        std::cout << "unavailable shards: " << (missing.empty() ? "none" : missing.dump()) << "\n";
        if (a.body.contains("rebalance")) std::cout << progress(a.body["rebalance"]) << "\n";
    }
    return 0;
}

// A node change; prints the node's new role.
int change_node(const Options& o, const std::string& action) {
    const auto& id = o.positional.front();
    Answer a;
    if (action == "add") {
        json body;
        body["id"] = id;
        body["address"] = o.positional[1];
        if (o.group) {
            try {
                body["group"] = std::stoull(*o.group);
            } catch (const std::exception&) {
                throw UsageError{"--group takes a replica group id"};
            }
        }
        a = send(o, bhttp::verb::post, "/_miroir/nodes", body.dump());
    } else if (action == "drain") {
        a = send(o, bhttp::verb::post, "/_miroir/nodes/" + id + "/drain", "{}");
    } else {
        a = send(o, bhttp::verb::delete_, "/_miroir/nodes/" + id);
    }
    if (a.status >= 300) throw failure(a);
    if (action == "remove") {
        std::cout << id << " removed\n";
    } else {
        std::cout << id << " " << text(a.body["role"]) << " in group " << text(a.body["group"])
                  << (action == "add" ? "; `miroir rebalance` gives it its shards\n"
                                      : "; `miroir rebalance` moves its shards away\n");
    }
    return 0;
}

// POST /_miroir/rebalance; with --wait, follows it until every group is balanced.
int rebalance(const Options& o) {
    auto a = send(o, bhttp::verb::post, "/_miroir/rebalance", "{}");
    if (a.status >= 300) throw failure(a);
    std::string last;
    for (;;) {
        const auto line = progress(a.body);
        if (o.as_json) {
            if (!o.wait || a.body.value("state", "") != "running") {
                std::cout << a.body.dump(2) << "\n";
            }
        } else if (line != last) {
            std::cout << line << "\n" << std::flush;
            last = line;
        }
        const auto state = a.body.value("state", "");
        if (state == "failed") return 1;
        if (!o.wait || (state == "idle" && a.body.value("balanced", false))) return 0;
        ::usleep(500 * 1000);
        a = get(o, "/_miroir/rebalance/status");
        if (a.status != 200) throw failure(a);
    }
}

std::string describe(const json& p) {
    std::ostringstream out;
    const auto kind = text(p["problem"]);
    if (p.contains("shard")) out << "shard " << text(p["shard"]) << " ";
    if (p.contains("group")) out << "group " << text(p["group"]) << " ";
    if (p.contains("node")) out << "node " << text(p["node"]) << " ";
    out << kind;
    if (kind == "count_mismatch") {
        for (const auto& [node, n] : p["counts"].items()) out << " " << node << "=" << text(n);
    } else if (kind == "ids_mismatch") {
        for (const auto& [node, m] : p["missing"].items()) {
            out << "; " << node << " lacks " << text(m["count"]) << " (" << m["ids"].dump() << ")";
        }
    } else if (p.contains("documents")) {
        out << ": " << text(p["documents"]) << " documents";
    }
    return out.str();
}

int verify(const Options& o) {
    std::string target = "/_miroir/verify?ids=";
    target += o.counts_only ? "false" : "true";
    if (o.index) target += "&index=" + *o.index;
    const auto a = get(o, target);
    if (a.status != 200) throw failure(a);
    if (o.as_json) {
        std::cout << a.body.dump(2) << "\n";
    } else {
        for (const auto& index : a.body["indexes"]) {
            const auto& problems = index["problems"];
            std::cout << text(index["uid"]) << ": " << text(index["documents"]) << " documents, "
                      << (problems.empty() ? "every shard on its owners, replicas agree"
                                           : std::to_string(problems.size()) + " problem(s)")
                      << "\n";
            for (const auto& p : problems) std::cout << "  " << describe(p) << "\n";
        }
        std::cout << (a.body.value("status", "") == "ok" ? "ok" : "problems found") << " ("
                  << text(a.body["checked"]) << " compared)\n";
    }
    return a.body.value("status", "") == "ok" ? 0 : 1;
}

// "name -> target" or "name -> a, b (search only)".
std::string alias_line(const json& alias) {
    std::string out = text(alias["name"]) + " -> ";
    if (!alias.contains("targets")) return out + text(alias["target"]);
    std::string sep;
    for (const auto& t : alias["targets"]) {
        out += sep + text(t);
        sep = ", ";
    }
    return out + " (search only)";
}

// The /_miroir/aliases commands.
int aliases(const std::string& action, const std::vector<std::string>& args) {
    if (action == "list") {
        const auto o = parse(args, {});
        const auto a = get(o, "/_miroir/aliases");
        if (a.status != 200) throw failure(a);
        if (o.as_json) {
            std::cout << a.body.dump(2) << "\n";
        } else {
            for (const auto& alias : a.body["results"]) std::cout << alias_line(alias) << "\n";
        }
        return 0;
    }
    if (action == "delete") {
        const auto o = parse(args, {.positional = 1});
        const auto a = send(o, bhttp::verb::delete_, "/_miroir/aliases/" + o.positional[0]);
        if (a.status >= 300) throw failure(a);
        std::cout << o.positional[0] << " deleted\n";
        return 0;
    }
    if (action != "create" && action != "flip") {
        throw UsageError{"`miroir aliases` takes `list`, `create`, `flip` or `delete`"};
    }
    const auto o = parse(args, {.positional = 2});
    json body;
    const auto& target = o.positional[1];
    if (target.find(',') == std::string::npos) {
        body["target"] = target;
    } else {
        body["targets"] = json::array();
        for (std::size_t start = 0; start <= target.size();) {
            const auto comma = std::min(target.find(',', start), target.size());
            if (comma > start) body["targets"].push_back(target.substr(start, comma - start));
            start = comma + 1;
        }
    }
    Answer a;
    if (action == "create") {
        body["name"] = o.positional[0];
        a = send(o, bhttp::verb::post, "/_miroir/aliases", body.dump());
    } else {
        a = send(o, bhttp::verb::put, "/_miroir/aliases/" + o.positional[0], body.dump());
    }
    if (a.status >= 300) throw failure(a);
    std::cout << alias_line(a.body) << "\n";
    return 0;
}

// POST /indexes/{uid}/explain, printed a line per decision.
void print_plan(const json& p) {
    std::cout << "index " << text(p["indexUid"]);
    if (!p["alias"].is_null()) std::cout << " (alias " << text(p["alias"]) << ")";
    std::cout << ", topology v" << text(p["topologyVersion"]) << ", " << text(p["shards"])
              << " shards, RF " << text(p["replicationFactor"]) << ", settings v"
              << text(p["settingsVersion"]) << "\n";
    std::cout << "group " << text(p["group"]["id"]) << ": " << text(p["group"]["reason"]) << "\n";
    const auto& planner = p["planner"];
    if (!planner["pinnedIds"].is_null()) {
        std::cout << "planner: the filter pins ids " << planner["pinnedIds"].dump() << ", "
                  << text(planner["shardsQueried"]) << " shard(s) asked\n";
    }
    std::cout << "nodes asked (" << p["nodes"].size() << "):\n";
    for (const auto& n : p["nodes"]) {
        std::cout << "  " << text(n["node"]) << "  group " << text(n["group"]) << "  "
                  << n["shards"].size() << " shards" << (n["restricted"] ? " (filtered)" : "")
                  << "  " << text(n["hitsAsked"]) << " hits\n";
    }
    const auto& m = p["merge"];
    std::cout << "merge: " << text(m["hitsAsked"]) << " hits asked for " << text(m["hitsReturned"])
              << " returned (over-fetch " << text(m["overFetch"]) << ")"
              << (m["wholeAnswer"] ? ", one node answers whole" : "") << "\n";
    for (const auto& w : p["warnings"]) {
        std::cout << "warning " << text(w["code"]) << ": " << text(w["message"]) << "\n";
    }
    if (!p.contains("execution")) return;
    const auto& e = p["execution"];
    std::cout << "executed: " << text(e["status"]) << " in " << text(e["tookMs"]) << " ms\n";
    for (const auto& r : e["nodeRequests"]) {
        std::cout << "  " << text(r["node"]) << "  round " << text(r["round"]) << "  "
                  << text(r["side"]) << "  status " << text(r["status"]) << "  " << text(r["ms"])
                  << " ms" << (r.contains("hits") ? "  " + text(r["hits"]) + " hits" : "") << "\n";
    }
}

int explain(const Options& o) {
    const auto& uid = o.positional[0];
    const std::string query = o.positional.size() > 1 ? o.positional[1] : "{}";
    if (!json::accept(query)) throw UsageError{"QUERY must be a JSON search body"};
    const auto a = send(o, bhttp::verb::post,
                        "/indexes/" + uid + "/explain" + (o.execute ? "?execute=true" : ""), query);
    if (a.status != 200) throw failure(a);
    if (o.as_json) {
        std::cout << a.body.dump(2) << "\n";
    } else {
        print_plan(a.body);
    }
    return 0;
}

// One line on an index's anti-entropy: the pass under way, or the last one.
std::string entropy_line(const json& e) {
    std::ostringstream out;
    out << text(e["index"]) << ": ";
    const auto counts = [&out](const json& c) {
        out << text(c["shardsChecked"]) << " shards checked (" << text(c["shardsDeferred"])
            << " deferred), " << text(c["documentsRead"]) << " documents read, "
            << text(c["bucketsDiffering"]) << " buckets differing, " << text(c["documentsWritten"])
            << " written, " << text(c["documentsDeleted"]) << " deleted";
    };
    if (e.value("state", "") == "running") {
        out << "running at shard " << text(e["nextShard"]) << ": ";
        counts(e.value("current", json::object()));
    } else if (e.contains("lastPass")) {
        out << "last pass: ";
        counts(e["lastPass"]);
    } else {
        out << "no pass yet";
    }
    if (e.value("lastError", json()).is_string()) out << "; error: " << text(e["lastError"]);
    return out.str();
}

// miroir anti-entropy run|status.
int anti_entropy(const std::string& action, const std::vector<std::string>& args) {
    if (action != "run" && action != "status") {
        throw UsageError{"`miroir anti-entropy` takes `run` or `status`"};
    }
    const auto o = parse(args, {.index = action == "run", .wait = action == "run"});
    auto a = get(o, "/_miroir/anti-entropy/status");
    if (action == "run") {
        json body = json::object();
        if (o.index) body["index"] = *o.index;
        a = send(o, bhttp::verb::post, "/_miroir/anti-entropy/run", body.dump());
        if (a.status != 202) throw failure(a);
        std::cout << "anti-entropy pass asked for " << (o.index ? *o.index : "every index") << "\n";
        if (!o.wait) return 0;
    }
    std::string last;
    for (;;) {
        if (a.status != 200 && action == "status") throw failure(a);
        if (action == "run") {
            ::usleep(500 * 1000);
            a = get(o, "/_miroir/anti-entropy/status");
            if (a.status != 200) throw failure(a);
        }
        std::string lines;
        bool failed = false;
        for (const auto& e : a.body.value("indexes", json::array())) {
            if (o.index && text(e["index"]) != *o.index) continue;
            lines += entropy_line(e) + "\n";
            failed = failed || e.value("lastError", json()).is_string();
        }
        if (o.as_json && action == "status") {
            std::cout << a.body.dump(2) << "\n";
        } else if (lines != last) {
            std::cout << lines << std::flush;
            last = lines;
        }
        if (action == "status") return 0;
        if (!a.body.value("requests", json::object()).contains(o.index.value_or(""))) {
            return failed ? 1 : 0;
        }
    }
}

}  // namespace

bool is_operator_command(const std::string& command) {
    return command == "status" || command == "nodes" || command == "verify" ||
           command == "rebalance" || command == "aliases" || command == "explain" ||
           command == "anti-entropy";
}

int run(const std::string& command, const std::vector<std::string>& args) {
    try {
        if (!args.empty() && (args.front() == "--help" || args.front() == "-h")) {
            std::cout << kUsage;
            return 0;
        }
        if (command == "status") return status(parse(args, {}), false);
        if (command == "verify") return verify(parse(args, {.verify = true}));
        if (command == "rebalance") return rebalance(parse(args, {.wait = true}));
        if (command == "explain") {
            return explain(parse(args, {.explain = true, .positional = 1, .optional = 1}));
        }
        const std::string action = args.empty() ? "" : args.front();
        const std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
        if (command == "aliases") return aliases(action, rest);
        if (command == "anti-entropy") return anti_entropy(action, rest);
        if (action == "list") return status(parse(rest, {}), true);
        if (action == "add")
            return change_node(parse(rest, {.group = true, .positional = 2}), action);
        if (action == "drain" || action == "remove") {
            return change_node(parse(rest, {.positional = 1}), action);
        }
        throw UsageError{"`miroir nodes` takes `list`, `add`, `drain` or `remove`"};
    } catch (const UsageError& e) {
        std::cerr << "miroir " << command << ": " << e.message << "\n\n" << kUsage;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "miroir " << command << ": " << e.what() << "\n";
        return 2;
    }
}

}  // namespace miroir::cli
