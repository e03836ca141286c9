// Configuration parsing, environment overrides and validation.
#include <cstring>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include <miroir/config/config.hpp>

namespace miroir::config {
namespace {

const char* kMinimal = R"(
miroir:
  replication_factor: 1
  nodes:
    - { id: meili-0, address: "http://127.0.0.1:7701", replica_group: 0 }
)";

std::map<std::string, std::string>& fake_env() {
    static std::map<std::string, std::string> env;
    return env;
}
const char* lookup(const char* name) {
    auto it = fake_env().find(name);
    return it == fake_env().end() ? nullptr : it->second.c_str();
}
const char* no_env(const char*) { return nullptr; }

// The message of the ConfigError thrown by parsing `yaml`.
std::string error_of(const std::string& yaml) {
    try {
        parse(yaml, no_env);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "<no error>";
}

TEST(Config, DefaultsMatchTheDocumentedCoreKeys) {
    const auto c = parse(kMinimal, no_env);
    EXPECT_EQ(c.shards, 64u);
    EXPECT_EQ(c.replica_groups, 1u);
    EXPECT_EQ(c.task_store.backend, "sqlite");
    EXPECT_EQ(c.task_store.path, "./miroir-tasks.db");
    EXPECT_EQ(c.server.bind, "127.0.0.1");
    EXPECT_EQ(c.server.port, 7700);
    EXPECT_EQ(c.server.metrics_port, 9090);
    EXPECT_EQ(c.server.max_body_bytes, 104857600u);
    EXPECT_EQ(c.health.interval_ms, 5000u);
    EXPECT_EQ(c.health.timeout_ms, 2000u);
    EXPECT_EQ(c.health.unhealthy_threshold, 3u);
    EXPECT_EQ(c.health.recovery_threshold, 2u);
    EXPECT_EQ(c.settings.drift_check_interval_ms, 30000u);
    EXPECT_EQ(c.settings.repair_attempts, 5u);
    EXPECT_EQ(c.settings.repair_backoff_ms, 1000u);
    EXPECT_EQ(c.scatter.node_timeout_ms, 5000u);
    EXPECT_EQ(c.scatter.read_deadline_ms, 10000u);
    EXPECT_TRUE(c.scatter.search_coalescing);
    EXPECT_EQ(c.idempotency.ttl_seconds, 86400u);
    EXPECT_TRUE(c.session_pinning.enabled);
    EXPECT_EQ(c.session_pinning.ttl_seconds, 900u);
    EXPECT_EQ(c.session_pinning.wait_strategy, "block");
    EXPECT_EQ(c.session_pinning.max_wait_ms, 5000u);
    EXPECT_FALSE(c.tenant_affinity.enabled);
    EXPECT_EQ(c.tenant_affinity.fallback, "none");
    EXPECT_EQ(c.scatter.unavailable_shard_policy, "partial");
    ASSERT_EQ(c.nodes.size(), 1u);
    EXPECT_EQ(c.nodes[0].host, "127.0.0.1");
    EXPECT_EQ(c.nodes[0].port, 7701);
    EXPECT_TRUE(c.unknown_keys.empty());
}

TEST(Config, ExampleFileInTheRepositoryIsValid) {
    const auto c = load_file(MIROIR_SOURCE_DIR "/miroir.yaml", no_env);
    EXPECT_EQ(c.nodes.size(), 3u);
    EXPECT_TRUE(c.unknown_keys.empty());
    EXPECT_EQ(c.scatter.replica_selection, "adaptive");
    EXPECT_TRUE(c.scatter.hedging.enabled);
    EXPECT_DOUBLE_EQ(c.scatter.hedging.budget_fraction, 0.1);
    EXPECT_DOUBLE_EQ(c.scatter.adaptive.epsilon, 0.05);
    EXPECT_EQ(c.settings.repair_attempts, 5u);
}

TEST(Config, EnvironmentOverridesTheFile) {
    fake_env() = {{"MIROIR_MASTER_KEY", "from-env"},
                  {"MIROIR_NODE_MASTER_KEY", "node-env"},
                  {"MIROIR_ADMIN_API_KEY", "admin-env"},
                  {"MIROIR_REDIS_URL", "redis://10.0.0.1:6379"},
                  {"MIROIR_PORT", "8800"}};
    const auto c = parse(std::string(kMinimal) + "  master_key: from-file\n", lookup);
    EXPECT_EQ(c.master_key, "from-env");
    EXPECT_EQ(c.node_master_key, "node-env");
    EXPECT_EQ(c.admin.api_key, "admin-env");
    EXPECT_EQ(c.task_store.url, "redis://10.0.0.1:6379");
    EXPECT_EQ(c.server.port, 8800);
}

TEST(Config, BadEnvironmentPortIsNamed) {
    fake_env() = {{"MIROIR_PORT", "eighty"}};
    try {
        parse(kMinimal, lookup);
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("MIROIR_PORT"), std::string::npos) << e.what();
    }
}

TEST(Config, AdminKeyFallsBackToMasterKey) {
    auto c = parse(std::string(kMinimal) + "  master_key: mk\n", no_env);
    EXPECT_EQ(c.effective_admin_key(), "mk");
    c.admin.api_key = "ak";
    EXPECT_EQ(c.effective_admin_key(), "ak");
}

TEST(Config, UnknownKeysAreReportedWithTheirPath) {
    const auto c =
        parse(std::string(kMinimal) + "  sharding: 3\n  server: { prot: 1 }\nother: 1\n", no_env);
    EXPECT_EQ(c.unknown_keys,
              (std::vector<std::string>{"miroir.server.prot", "miroir.sharding", "other"}));
}

struct BadCase {
    const char* yaml_tail;  // appended under `miroir:`
    const char* key;        // the key the error must name
};

class ConfigValidation : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigValidation, ErrorNamesTheOffendingKey) {
    const auto message = error_of(std::string(kMinimal) + GetParam().yaml_tail);
    EXPECT_NE(message.find(GetParam().key), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigValidation,
    ::testing::Values(
        BadCase{"  shards: 0\n", "miroir.shards"}, BadCase{"  shards: lots\n", "miroir.shards"},
        BadCase{"  shards: -3\n", "miroir.shards"},
        BadCase{"  replica_groups: 0\n", "miroir.replica_groups"},
        BadCase{"  replica_groups: 2\n", "miroir.replication_factor"},
        BadCase{"  server: { port: 70000 }\n", "miroir.server.port"},
        BadCase{"  server: { port: 9090 }\n", "miroir.server.metrics_port"},
        BadCase{"  server: { max_body_bytes: 0 }\n", "miroir.server.max_body_bytes"},
        BadCase{"  task_store: { backend: etcd }\n", "miroir.task_store.backend"},
        BadCase{"  task_store: { backend: redis }\n", "miroir.task_store.url"},
        BadCase{"  scatter: { unavailable_shard_policy: maybe }\n",
                "miroir.scatter.unavailable_shard_policy"},
        BadCase{"  log: { format: xml }\n", "miroir.log.format"},
        BadCase{"  scatter: { replica_selection: fastest }\n", "miroir.scatter.replica_selection"},
        BadCase{"  scatter: { hedging: { enabled: sometimes } }\n",
                "miroir.scatter.hedging.enabled"},
        BadCase{"  scatter: { hedging: { budget_fraction: 2 } }\n",
                "miroir.scatter.hedging.budget_fraction"},
        BadCase{"  scatter: { adaptive: { epsilon: x } }\n", "miroir.scatter.adaptive.epsilon"},
        BadCase{"  scatter: { read_deadline_ms: -1 }\n", "miroir.scatter.read_deadline_ms"},
        BadCase{"  idempotency: { ttl_seconds: 0 }\n", "miroir.idempotency.ttl_seconds"},
        BadCase{"  session_pinning: { wait_strategy: hope }\n",
                "miroir.session_pinning.wait_strategy"},
        BadCase{"  session_pinning: { ttl_seconds: 0 }\n", "miroir.session_pinning.ttl_seconds"},
        BadCase{"  tenant_affinity: { fallback: random }\n", "miroir.tenant_affinity.fallback"},
        BadCase{"  tenant_affinity: { groups: { acme: 3 } }\n",
                "miroir.tenant_affinity.groups.acme"},
        BadCase{"  tenant_affinity: { groups: [acme] }\n", "miroir.tenant_affinity.groups"},
        BadCase{"  health: { timeout_ms: 0 }\n", "miroir.health.timeout_ms"},
        BadCase{"  server: [1, 2]\n", "miroir.server"}));

TEST(Config, NodeErrorsNameTheNode) {
    const std::string head = "miroir:\n  nodes:\n";
    const std::string rf1 = "miroir:\n  replication_factor: 1\n  nodes:\n";
    EXPECT_NE(error_of(rf1 + "    - { id: a, address: \"127.0.0.1:7701\" }\n")
                  .find("miroir.nodes[0].address"),
              std::string::npos);
    EXPECT_NE(error_of(head + "    - { id: a, address: \"http://h:1\" }\n"
                              "    - { id: a, address: \"http://h:2\" }\n")
                  .find("miroir.nodes[1].id"),
              std::string::npos);
    EXPECT_NE(error_of(head + "    - { id: \"a b\", address: \"http://h:1\" }\n")
                  .find("miroir.nodes[0].id"),
              std::string::npos);
    EXPECT_NE(error_of(head + "    - { id: a, address: \"http://h:1\", replica_group: 1 }\n")
                  .find("miroir.nodes[0].replica_group"),
              std::string::npos);
    EXPECT_NE(error_of("miroir:\n  nodes: []\n").find("miroir.nodes"), std::string::npos);
    EXPECT_NE(error_of(head + "    - { id: a, address: \"http://h:1\" }\n")
                  .find("miroir.replication_factor"),
              std::string::npos);
    EXPECT_NE(error_of("miroir: [\n").find("invalid YAML"), std::string::npos);
}

TEST(Config, RebalanceLeaseMustOutlastThePolls) {
    const std::string base(kMinimal);
    EXPECT_NE(error_of(base + "  rebalance: { topology_poll_ms: 10000 }\n")
                  .find("miroir.rebalance.lease_ms"),
              std::string::npos);
    EXPECT_NE(error_of(base + "  rebalance: { lease_ms: 100, gate_poll_ms: 50 }\n")
                  .find("miroir.rebalance.lease_ms"),
              std::string::npos);
    EXPECT_EQ(error_of(base + "  rebalance: { topology_poll_ms: 5000 }\n"), "<no error>");
}

TEST(Config, DumpMasksSecrets) {
    const auto c = parse(std::string(kMinimal) +
                             "  master_key: supersecret\n  node_master_key: nodesecret\n"
                             "  admin: { api_key: adminsecret }\n",
                         no_env);
    const auto yaml = to_yaml(c);
    EXPECT_EQ(yaml.find("supersecret"), std::string::npos);
    EXPECT_EQ(yaml.find("nodesecret"), std::string::npos);
    EXPECT_EQ(yaml.find("adminsecret"), std::string::npos);
    EXPECT_NE(yaml.find("********"), std::string::npos);
    // the dump is itself a valid configuration with the same values
    const auto again = parse(yaml, no_env);
    EXPECT_EQ(again.nodes[0].address, c.nodes[0].address);
    EXPECT_EQ(again.shards, c.shards);
}

}  // namespace
}  // namespace miroir::config

namespace miroir::config {
namespace {

TEST(Config, WriteQuorumIsOneWithTwoCopiesElseMajority) {
    EXPECT_EQ(parse(kMinimal, no_env).effective_write_quorum(), "majority");
    const std::string two = R"(
miroir:
  replication_factor: 2
  nodes:
    - { id: a, address: "http://127.0.0.1:7701", replica_group: 0 }
    - { id: b, address: "http://127.0.0.1:7702", replica_group: 0 }
)";
    EXPECT_EQ(parse(two, no_env).effective_write_quorum(), "one");
    EXPECT_EQ(parse(two + "  write_quorum: all\n", no_env).effective_write_quorum(), "all");
    EXPECT_NE(
        error_of(std::string(kMinimal) + "  write_quorum: most\n").find("miroir.write_quorum"),
        std::string::npos);
}

// task_store.url: every form a Redis deployment takes, and a clear error for the others.
TEST(Config, RedisUrls) {
    auto plain = parse_redis_url("redis://10.0.0.1");
    EXPECT_FALSE(plain.tls);
    ASSERT_EQ(plain.hosts.size(), 1u);
    EXPECT_EQ(plain.hosts[0], std::make_pair(std::string("10.0.0.1"), std::uint16_t{6379}));
    EXPECT_EQ(plain.db, 0u);

    auto full = parse_redis_url("rediss://app:p%40ss:w@redis.example:6380/4");
    EXPECT_TRUE(full.tls);
    EXPECT_EQ(full.username, "app");
    EXPECT_EQ(full.password, "p@ss:w");
    EXPECT_EQ(full.hosts[0].first, "redis.example");
    EXPECT_EQ(full.hosts[0].second, 6380);
    EXPECT_EQ(full.db, 4u);

    auto password_only = parse_redis_url("redis://:secret@[::1]:7000");
    EXPECT_EQ(password_only.username, "");
    EXPECT_EQ(password_only.password, "secret");
    EXPECT_EQ(password_only.hosts[0].first, "::1");

    auto sentinel = parse_redis_url("redis+sentinel://s1,s2:5000,s3/mymaster/2");
    EXPECT_TRUE(sentinel.sentinel);
    EXPECT_EQ(sentinel.master, "mymaster");
    EXPECT_EQ(sentinel.db, 2u);
    ASSERT_EQ(sentinel.hosts.size(), 3u);
    EXPECT_EQ(sentinel.hosts[0].second, 26379);
    EXPECT_EQ(sentinel.hosts[1].second, 5000);

    for (const char* bad :
         {"http://x", "redis://", "redis://x:0", "redis://x:99999", "redis://a,b",
          "redis+sentinel://s1", "redis://x/db", "redis://x?timeout=1", "redis://[::1"}) {
        try {
            parse_redis_url(bad);
            ADD_FAILURE() << bad << " was taken";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("miroir.task_store.url"), std::string::npos);
        }
    }
    const std::string redis_backend =
        std::string(kMinimal) + "  task_store: { backend: redis, url: \"redis://x:70000\" }\n";
    EXPECT_NE(error_of(redis_backend).find("invalid port"), std::string::npos);
}

}  // namespace
}  // namespace miroir::config
