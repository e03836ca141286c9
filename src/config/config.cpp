// YAML → Config: reading with unknown-key tracking, environment overrides and validation (the
// masked YAML dump is dump.cpp).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <boost/url/parse.hpp>
#include <yaml-cpp/yaml.h>

#include <miroir/config/config.hpp>

namespace miroir::config {

namespace {

// Reads the keys of one YAML map, remembering which were consumed; the rest are unknown.
class MapReader {
  public:
    MapReader(YAML::Node node, std::string path, std::vector<std::string>& unknown)
        : node_(std::move(node)), path_(std::move(path)), unknown_(unknown) {
        if (node_ && !node_.IsNull() && !node_.IsMap()) {
            throw ConfigError(path_ + ": expected a map");
        }
    }
    MapReader(const MapReader&) = delete;

    ~MapReader() {
        if (!node_ || !node_.IsMap()) return;
        for (const auto& kv : node_) {
            // a key that is not a scalar (`? [a, b]`) is unknown too; a destructor must not throw
            const auto key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
            if (!known_.contains(key)) unknown_.push_back(path_ + "." + key);
        }
    }

    std::string key_path(const std::string& key) const { return path_ + "." + key; }

    YAML::Node child(const std::string& key) {
        known_.insert(key);
        if (!node_ || !node_.IsMap()) return YAML::Node();
        return node_[key];
    }

    void read(const std::string& key, std::string& out) {
        auto n = child(key);
        if (!n || n.IsNull()) return;
        if (!n.IsScalar()) throw ConfigError(key_path(key) + ": expected a string");
        out = n.Scalar();
    }

    template <typename Int>
    void read_int(const std::string& key, Int& out, std::int64_t min,
                  std::int64_t max = std::numeric_limits<Int>::max()) {
        auto n = child(key);
        if (!n || n.IsNull()) return;
        out = static_cast<Int>(to_int(n, key_path(key), min, max));
    }

    void read_double(const std::string& key, double& out, double min, double max) {
        auto n = child(key);
        if (!n || n.IsNull()) return;
        const std::string where = key_path(key);
        char* end = nullptr;
        const std::string text = n.IsScalar() ? n.Scalar() : std::string();
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value)) {
            throw ConfigError(where + ": expected a number, got `" +
                              (n.IsScalar() ? text : std::string("<not a scalar>")) + "`");
        }
        if (value < min || value > max) {
            throw ConfigError(where + ": " + text + " is out of range [" + std::to_string(min) +
                              ", " + std::to_string(max) + "]");
        }
        out = value;
    }

    void read_bool(const std::string& key, bool& out) {
        auto n = child(key);
        if (!n || n.IsNull()) return;
        const std::string text = n.IsScalar() ? n.Scalar() : std::string();
        if (text == "true") {
            out = true;
        } else if (text == "false") {
            out = false;
        } else {
            throw ConfigError(key_path(key) + ": expected true or false, got `" + text + "`");
        }
    }

    static std::int64_t to_int(const YAML::Node& n, const std::string& where, std::int64_t min,
                               std::int64_t max) {
        std::int64_t value = 0;
        bool ok = n.IsScalar();
        if (ok) {
            const auto& s = n.Scalar();
            char* end = nullptr;
            errno = 0;
            value = std::strtoll(s.c_str(), &end, 10);
            ok = !s.empty() && end == s.c_str() + s.size() && errno == 0;
        }
        if (!ok) {
            throw ConfigError(where + ": expected an integer, got `" +
                              (n.IsScalar() ? n.Scalar() : std::string("<not a scalar>")) + "`");
        }
        if (value < min || value > max) {
            throw ConfigError(where + ": " + std::to_string(value) + " is out of range [" +
                              std::to_string(min) + ", " + std::to_string(max) + "]");
        }
        return value;
    }

  private:
    YAML::Node node_;
    std::string path_;
    std::vector<std::string>& unknown_;
    std::set<std::string> known_;
};

void read_nodes(YAML::Node list, Config& cfg) {
    if (!list || list.IsNull()) return;
    if (!list.IsSequence()) throw ConfigError("miroir.nodes: expected a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
        MapReader r(list[i], "miroir.nodes[" + std::to_string(i) + "]", cfg.unknown_keys);
        Node node;
        r.read("id", node.id);
        r.read("address", node.address);
        r.read_int("replica_group", node.replica_group, 0, 1024);
        cfg.nodes.push_back(std::move(node));
    }
}

void read_task_store(MapReader& m, Config& cfg) {
    MapReader r(m.child("task_store"), "miroir.task_store", cfg.unknown_keys);
    r.read("backend", cfg.task_store.backend);
    r.read("path", cfg.task_store.path);
    r.read("url", cfg.task_store.url);
    r.read("password", cfg.task_store.password);
    r.read("tls_ca_file", cfg.task_store.tls_ca_file);
    r.read_int("command_timeout_ms", cfg.task_store.command_timeout_ms, 10);
    r.read_int("poll_interval_ms", cfg.task_store.poll_interval_ms, 10);
    r.read_int("retention_hours", cfg.task_store.retention_hours, 1);
}

void read_admin(MapReader& m, Config& cfg) {
    MapReader r(m.child("admin"), "miroir.admin", cfg.unknown_keys);
    r.read("api_key", cfg.admin.api_key);
}

void read_server(MapReader& m, Config& cfg) {
    auto& s = cfg.server;
    MapReader r(m.child("server"), "miroir.server", cfg.unknown_keys);
    r.read("bind", s.bind);
    r.read_int("port", s.port, 0);
    r.read_int("metrics_port", s.metrics_port, 0);
    r.read_int("max_body_bytes", s.max_body_bytes, 1, std::int64_t{1} << 40);
    r.read_bool("compress_responses", s.compress_responses);
    r.read_int("threads", s.threads, 0, 1024);
    r.read_int("header_timeout_ms", s.header_timeout_ms, 1);
    r.read_int("body_timeout_ms", s.body_timeout_ms, 1);
    r.read_int("idle_timeout_ms", s.idle_timeout_ms, 1);
    r.read_int("shutdown_grace_ms", s.shutdown_grace_ms, 0);
}

void read_health(MapReader& m, Config& cfg) {
    auto& h = cfg.health;
    MapReader r(m.child("health"), "miroir.health", cfg.unknown_keys);
    r.read_int("interval_ms", h.interval_ms, 1);
    r.read_int("timeout_ms", h.timeout_ms, 1);
    r.read_int("unhealthy_threshold", h.unhealthy_threshold, 1);
    r.read_int("recovery_threshold", h.recovery_threshold, 1);
}

void read_settings(MapReader& m, Config& cfg) {
    auto& st = cfg.settings;
    MapReader r(m.child("settings"), "miroir.settings", cfg.unknown_keys);
    r.read_int("drift_check_interval_ms", st.drift_check_interval_ms, 1);
    r.read_int("repair_attempts", st.repair_attempts, 1);
    r.read_int("repair_backoff_ms", st.repair_backoff_ms, 1);
}

void read_scatter(MapReader& m, Config& cfg) {
    auto& sc = cfg.scatter;
    MapReader r(m.child("scatter"), "miroir.scatter", cfg.unknown_keys);
    r.read_int("node_timeout_ms", sc.node_timeout_ms, 1);
    r.read_int("read_deadline_ms", sc.read_deadline_ms, 0);
    r.read_bool("search_coalescing", sc.search_coalescing);
    r.read("unavailable_shard_policy", sc.unavailable_shard_policy);
    r.read("replica_selection", sc.replica_selection);
    MapReader a(r.child("adaptive"), "miroir.scatter.adaptive", cfg.unknown_keys);
    a.read_double("latency_weight", sc.adaptive.latency_weight, 0, 1e9);
    a.read_double("inflight_weight", sc.adaptive.inflight_weight, 0, 1e9);
    a.read_double("error_weight", sc.adaptive.error_weight, 0, 1e9);
    a.read_int("half_life_ms", sc.adaptive.half_life_ms, 1);
    a.read_double("epsilon", sc.adaptive.epsilon, 0, 1);
    MapReader h(r.child("hedging"), "miroir.scatter.hedging", cfg.unknown_keys);
    h.read_bool("enabled", sc.hedging.enabled);
    h.read_double("multiplier", sc.hedging.multiplier, 0, 1000);
    h.read_int("floor_ms", sc.hedging.floor_ms, 0);
    h.read_double("budget_fraction", sc.hedging.budget_fraction, 0, 1);
    h.read_bool("cross_group", sc.hedging.cross_group);
}

void read_upstream(MapReader& m, Config& cfg) {
    auto& u = cfg.upstream;
    MapReader r(m.child("upstream"), "miroir.upstream", cfg.unknown_keys);
    r.read_int("max_connections_per_node", u.max_connections_per_node, 1, 65536);
    r.read_int("idle_connections_per_node", u.idle_connections_per_node, 0, 65536);
    r.read_int("connect_timeout_ms", u.connect_timeout_ms, 1);
    r.read_int("write_timeout_ms", u.write_timeout_ms, 1);
}

void read_rebalance(MapReader& m, Config& cfg) {
    auto& rb = cfg.rebalance;
    MapReader r(m.child("rebalance"), "miroir.rebalance", cfg.unknown_keys);
    r.read_int("page_size", rb.page_size, 1, 100000);
    r.read_int("pause_ms", rb.pause_ms, 0);
    r.read_int("topology_poll_ms", rb.topology_poll_ms, 10);
    r.read_int("gate_poll_ms", rb.gate_poll_ms, 1);
    r.read_int("lease_ms", rb.lease_ms, 100);
    r.read_int("task_timeout_ms", rb.task_timeout_ms, 100);
}

void read_anti_entropy(MapReader& m, Config& cfg) {
    auto& ae = cfg.anti_entropy;
    MapReader r(m.child("anti_entropy"), "miroir.anti_entropy", cfg.unknown_keys);
    r.read_bool("enabled", ae.enabled);
    r.read_int("interval_s", ae.interval_s, 1, 30 * 86400);
    r.read_int("page_size", ae.page_size, 1, 100000);
    r.read_int("documents_per_second", ae.documents_per_second, 0);
    r.read_int("buckets", ae.buckets, 1, 65536);
    r.read_int("repairs_per_hold", ae.repairs_per_hold, 1, 100000);
}

void read_dump_import(MapReader& m, Config& cfg) {
    auto& d = cfg.dump_import;
    MapReader r(m.child("dump_import"), "miroir.dump_import", cfg.unknown_keys);
    r.read("dir", d.dir);
    r.read_int("max_bytes", d.max_bytes, 0, std::int64_t{1} << 50);
    r.read_int("batch_bytes", d.batch_bytes, 1 << 16, 1 << 30);
    r.read_int("tasks_in_flight", d.tasks_in_flight, 1, 64);
}

void read_idempotency(MapReader& m, Config& cfg) {
    MapReader r(m.child("idempotency"), "miroir.idempotency", cfg.unknown_keys);
    r.read_int("ttl_seconds", cfg.idempotency.ttl_seconds, 1, 30 * 86400);
}

void read_session_pinning(MapReader& m, Config& cfg) {
    MapReader r(m.child("session_pinning"), "miroir.session_pinning", cfg.unknown_keys);
    auto& sp = cfg.session_pinning;
    r.read_bool("enabled", sp.enabled);
    r.read_int("ttl_seconds", sp.ttl_seconds, 1, 7 * 86400);
    r.read("wait_strategy", sp.wait_strategy);
    r.read_int("max_wait_ms", sp.max_wait_ms, 0, 600000);
    r.read_int("max_sessions", sp.max_sessions, 1, 100000000);
}

void read_tenant_affinity(MapReader& m, Config& cfg) {
    MapReader r(m.child("tenant_affinity"), "miroir.tenant_affinity", cfg.unknown_keys);
    auto& ta = cfg.tenant_affinity;
    r.read_bool("enabled", ta.enabled);
    r.read_bool("header", ta.header);
    r.read("claim", ta.claim);
    r.read("fallback", ta.fallback);
    const auto groups = r.child("groups");
    if (groups && !groups.IsNull() && !groups.IsMap()) {
        throw ConfigError(r.key_path("groups") + ": expected a map of tenant to replica group");
    }
    for (const auto& kv : groups) {
        if (!kv.first.IsScalar()) {
            throw ConfigError(r.key_path("groups") + ": a tenant must be a string");
        }
        const auto tenant = kv.first.Scalar();
        ta.groups[tenant] = static_cast<int>(
            MapReader::to_int(kv.second, r.key_path("groups") + "." + tenant, 0, 63));
    }
}

void read_log(MapReader& m, Config& cfg) {
    MapReader r(m.child("log"), "miroir.log", cfg.unknown_keys);
    r.read("format", cfg.log.format);
    r.read("level", cfg.log.level);
}

void read_config(const YAML::Node& root, Config& cfg) {
    if (!root || root.IsNull()) throw ConfigError("miroir: missing top-level `miroir:` map");
    std::vector<std::string> top_unknown;
    {
        MapReader top(root, "", top_unknown);
        MapReader m(top.child("miroir"), "miroir", cfg.unknown_keys);
        m.read("master_key", cfg.master_key);
        m.read("node_master_key", cfg.node_master_key);
        m.read_int("shards", cfg.shards, 1, 65536);
        m.read_int("replication_factor", cfg.replication_factor, 1, 16);
        m.read_int("replica_groups", cfg.replica_groups, 1, 64);
        m.read("write_quorum", cfg.write_quorum);
        read_nodes(m.child("nodes"), cfg);
        read_task_store(m, cfg);
        read_admin(m, cfg);
        read_server(m, cfg);
        read_health(m, cfg);
        read_settings(m, cfg);
        read_scatter(m, cfg);
        read_upstream(m, cfg);
        read_rebalance(m, cfg);
        read_anti_entropy(m, cfg);
        read_dump_import(m, cfg);
        read_idempotency(m, cfg);
        read_session_pinning(m, cfg);
        read_tenant_affinity(m, cfg);
        read_log(m, cfg);
    }
    for (auto& k : top_unknown) cfg.unknown_keys.push_back(k.substr(1));  // drop leading '.'
}

void apply_env(Config& cfg, EnvLookup env) {
    auto get = [&](const char* name) -> const char* { return env ? env(name) : std::getenv(name); };
    if (const char* v = get("MIROIR_MASTER_KEY")) cfg.master_key = v;
    if (const char* v = get("MIROIR_NODE_MASTER_KEY")) cfg.node_master_key = v;
    if (const char* v = get("MIROIR_ADMIN_API_KEY")) cfg.admin.api_key = v;
    if (const char* v = get("MIROIR_REDIS_URL")) cfg.task_store.url = v;
    if (const char* v = get("MIROIR_REDIS_PASSWORD")) cfg.task_store.password = v;
    if (const char* v = get("MIROIR_PORT")) {
        cfg.server.port =
            static_cast<std::uint16_t>(MapReader::to_int(YAML::Node(v), "MIROIR_PORT", 0, 65535));
    }
}

bool valid_node_id(const std::string& id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

}  // namespace

void check_node(Node& node, const std::string& where) {
    if (!valid_node_id(node.id)) {
        throw ConfigError(where + ".id: `" + node.id +
                          "` is not a valid node id (1-128 of A-Z a-z 0-9 - _ .)");
    }
    auto url = boost::urls::parse_absolute_uri(node.address);
    if (!url || url->scheme() != "http" || url->host().empty() || !url->has_port() ||
        url->port_number() == 0 || (!url->path().empty() && url->path() != "/")) {
        throw ConfigError(where + ".address: `" + node.address +
                          "` is not an address of the form http://host:port");
    }
    node.host = url->host();
    node.port = url->port_number();
}

// `value` is one of `allowed`, else a ConfigError naming the setting `where`.
void check_one_of(const std::string& value, std::initializer_list<const char*> allowed,
                  const std::string& where) {
    std::string list;
    for (const char* a : allowed) {
        if (value == a) return;
        list += (list.empty() ? "" : ", ") + std::string(a);
    }
    throw ConfigError(where + ": `" + value + "` is not one of " + list);
}

void validate_nodes(const Config& cfg) {
    std::set<std::string> ids;
    std::map<int, std::uint32_t> per_group;
    for (std::size_t i = 0; i < cfg.nodes.size(); ++i) {
        const auto& node = cfg.nodes[i];
        const std::string where = "miroir.nodes[" + std::to_string(i) + "]";
        if (!ids.insert(node.id).second) {
            throw ConfigError(where + ".id: duplicate node id `" + node.id + "`");
        }
        if (node.replica_group < 0 ||
            static_cast<std::uint32_t>(node.replica_group) >= cfg.replica_groups) {
            throw ConfigError(where + ".replica_group: " + std::to_string(node.replica_group) +
                              " is not below miroir.replica_groups (" +
                              std::to_string(cfg.replica_groups) + ")");
        }
        ++per_group[node.replica_group];
    }
    for (std::uint32_t g = 0; g < cfg.replica_groups; ++g) {
        const auto count = per_group[static_cast<int>(g)];
        if (count < cfg.replication_factor) {
            throw ConfigError(
                "miroir.replication_factor: " + std::to_string(cfg.replication_factor) +
                " copies need as many nodes "
                "in each replica group, but group " +
                std::to_string(g) + " has " + std::to_string(count));
        }
    }
}

void validate_store(const Config& cfg) {
    check_one_of(cfg.task_store.backend, {"sqlite", "redis"}, "miroir.task_store.backend");
    if (!cfg.write_quorum.empty()) {
        check_one_of(cfg.write_quorum, {"one", "majority", "all"}, "miroir.write_quorum");
    }
    if (cfg.task_store.backend == "sqlite" && cfg.task_store.path.empty()) {
        throw ConfigError("miroir.task_store.path: required by the sqlite backend");
    }
    if (cfg.task_store.backend == "redis") parse_redis_url(cfg.task_store.url);
}

void validate(Config& cfg) {
    if (cfg.nodes.empty()) throw ConfigError("miroir.nodes: at least one node is required");
    for (std::size_t i = 0; i < cfg.nodes.size(); ++i) {
        check_node(cfg.nodes[i], "miroir.nodes[" + std::to_string(i) + "]");
    }
    validate_nodes(cfg);
    const auto& rb = cfg.rebalance;
    if (rb.lease_ms < 3 * std::max(rb.topology_poll_ms, rb.gate_poll_ms)) {
        throw ConfigError(
            "miroir.rebalance.lease_ms: must be at least three times topology_poll_ms and "
            "gate_poll_ms (a pod silent for a lease counts as gone)");
    }
    validate_store(cfg);
    check_one_of(cfg.scatter.unavailable_shard_policy, {"partial", "error"},
                 "miroir.scatter.unavailable_shard_policy");
    check_one_of(cfg.scatter.replica_selection, {"adaptive", "round_robin", "random"},
                 "miroir.scatter.replica_selection");
    if (cfg.server.metrics_port != 0 && cfg.server.metrics_port == cfg.server.port) {
        throw ConfigError("miroir.server.metrics_port: must differ from miroir.server.port");
    }
    if (cfg.upstream.idle_connections_per_node > cfg.upstream.max_connections_per_node) {
        throw ConfigError(
            "miroir.upstream.idle_connections_per_node: must not exceed max_connections_per_node");
    }
    check_one_of(cfg.tenant_affinity.fallback, {"none", "hash"}, "miroir.tenant_affinity.fallback");
    for (const auto& [tenant, group] : cfg.tenant_affinity.groups) {
        if (static_cast<std::uint32_t>(group) >= cfg.replica_groups) {
            throw ConfigError("miroir.tenant_affinity.groups." + tenant + ": group " +
                              std::to_string(group) + " is not below miroir.replica_groups (" +
                              std::to_string(cfg.replica_groups) + ")");
        }
    }
    check_one_of(cfg.session_pinning.wait_strategy, {"block", "route_pin"},
                 "miroir.session_pinning.wait_strategy");
    check_one_of(cfg.log.format, {"text", "json"}, "miroir.log.format");
    check_one_of(cfg.log.level, {"debug", "info", "warn", "error"}, "miroir.log.level");
}

Config parse(const std::string& yaml_text, EnvLookup env) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(std::string("invalid YAML: ") + e.what());
    }
    Config cfg;
    read_config(root, cfg);
    apply_env(cfg, env);
    validate(cfg);
    return cfg;
}

Config load_file(const std::string& path, EnvLookup env) {
    std::ifstream in(path);
    if (!in) throw ConfigError("cannot read config file `" + path + "`");
    std::stringstream buffer;
    buffer << in.rdbuf();
    return parse(buffer.str(), env);
}

}  // namespace miroir::config
