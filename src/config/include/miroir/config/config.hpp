// Miroir's configuration: plain structs, loaded from YAML with environment overrides and
// validated in one place. No other layer sees YAML.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace miroir::config {

struct Node {
    std::string id;
    std::string address;  // http://host:port
    int replica_group = 0;
    // Parsed from address by validation.
    std::string host;
    std::uint16_t port = 0;
};

// Where Redis is, read from task_store.url:
//   redis://[[user]:password@]host[:port][/db]         rediss:// for TLS
//   redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db]
//                                                      rediss+sentinel:// for TLS
// The credentials are the master's (and its replicas'); Sentinels are asked without them.
struct RedisTarget {
    bool tls = false;
    bool sentinel = false;
    std::vector<std::pair<std::string, std::uint16_t>> hosts;  // the server, or the Sentinels
    std::string master;                                        // Sentinel: the master's name
    std::string username;
    std::string password;
    std::uint32_t db = 0;
};

struct TaskStore {
    std::string backend = "sqlite";  // sqlite | redis
    std::string path = "./miroir-tasks.db";
    std::string url;          // redis://host:port (RedisTarget)
    std::string password;     // Redis AUTH; overrides the URL's (env MIROIR_REDIS_PASSWORD)
    std::string tls_ca_file;  // rediss: the CAs to trust (empty: the system's)
    std::uint32_t command_timeout_ms = 2000;  // a Redis command unanswered this long fails
    std::uint32_t poll_interval_ms = 500;     // how often unfinished tasks are asked of the nodes
    std::uint32_t retention_hours = 168;      // finished tasks older than this are pruned
};

struct Admin {
    std::string api_key;
};

struct Server {
    std::string bind = "127.0.0.1";
    std::uint16_t port = 7700;
    std::uint16_t metrics_port = 9090;  // 0 disables the separate metrics listener
    std::uint64_t max_body_bytes = 104857600;
    bool compress_responses = true;  // br, gzip or deflate, as the client accepts
    unsigned threads = 0;            // 0 = one per core
    std::uint32_t header_timeout_ms = 30000;
    std::uint32_t body_timeout_ms = 60000;
    std::uint32_t idle_timeout_ms = 75000;
    std::uint32_t shutdown_grace_ms = 10000;
};

struct Health {
    std::uint32_t interval_ms = 5000;
    std::uint32_t timeout_ms = 2000;
    std::uint32_t unhealthy_threshold = 3;
    std::uint32_t recovery_threshold = 2;
};

// Two-phase settings: the drift checker and the repair of nodes whose settings diverge.
struct SettingsSync {
    std::uint32_t drift_check_interval_ms = 30000;  // every node's settings compared this often
    std::uint32_t repair_attempts = 5;       // a reachable node still diverging after this many
                                             // repairs freezes writes to the index
    std::uint32_t repair_backoff_ms = 1000;  // first wait between repairs, doubled each time
};

// How reads pick among the replicas of a shard (strategy `adaptive`).
struct Adaptive {
    double latency_weight = 1.0;         // per millisecond of the node's latency (EWMA)
    double inflight_weight = 5.0;        // per request the node is answering
    double error_weight = 100.0;         // per unit of the node's error rate (EWMA, 0–1)
    std::uint32_t half_life_ms = 10000;  // of the EWMAs
    double epsilon = 0.05;               // chance to pick a replica at random (exploration)
};

// Hedged reads: the same read to another replica when the first is slow.
struct Hedging {
    bool enabled = true;
    double multiplier = 2.0;       // hedge after the node's p95 latency × multiplier...
    std::uint32_t floor_ms = 20;   // ...but never sooner than this
    double budget_fraction = 0.1;  // hedges at most this fraction of reads (token bucket)
    bool cross_group = false;  // hedge to another group when the node's group has no other replica
};

struct Scatter {
    std::uint32_t node_timeout_ms = 5000;  // one node request of a read
    // A read as a whole (retries and hedges included): its node requests get the time left.
    // 0: none. Writes have none, as in Meilisearch: each node's share is bounded by
    // upstream.write_timeout_ms.
    std::uint32_t read_deadline_ms = 10000;
    // Identical searches in flight at the same time share one scatter.
    bool search_coalescing = true;
    std::string unavailable_shard_policy = "partial";  // partial | error
    std::string replica_selection = "adaptive";        // adaptive | round_robin | random
    Adaptive adaptive;
    Hedging hedging;
};

struct Upstream {
    std::uint32_t max_connections_per_node = 64;
    std::uint32_t connect_timeout_ms = 1000;
    std::uint32_t write_timeout_ms = 60000;  // a write's request to one node, payload included
    std::uint32_t idle_connections_per_node = 16;
};

// Moving shards between nodes when the topology changes (docs/operations.md, "Rebalancing").
struct Rebalance {
    std::uint32_t page_size = 5000;          // documents per page copied node to node, and per hold
    std::uint32_t pause_ms = 0;              // between two holds of the writes during a copy
    std::uint32_t topology_poll_ms = 1000;   // how often a pod reloads the topology
    std::uint32_t gate_poll_ms = 20;         // how often a pod reads the write gate in one
    std::uint32_t lease_ms = 15000;          // one pod drives a rebalance; its lease lasts this
    std::uint32_t task_timeout_ms = 600000;  // a node's copy or cleanup task must finish in this
};

// Anti-entropy: the replicas of every shard compared by digests, what differs repaired
// (docs/operations.md, "Anti-entropy").
struct AntiEntropy {
    bool enabled = true;
    std::uint32_t interval_s = 3600;             // from the end of one full pass to the next
    std::uint32_t page_size = 5000;              // documents read from a node per request
    std::uint32_t documents_per_second = 20000;  // reads, all nodes together (0: no limit)
    std::uint32_t buckets = 256;                 // digests per shard
    std::uint32_t repairs_per_hold = 1000;       // documents checked again and repaired per hold
};

// Dump import: a Meilisearch dump uploaded to /_miroir/dumps/import is kept on disk while its
// indexes, settings, keys and documents are written through the fleet (docs/operations.md,
// "Importing a dump").
struct DumpImport {
    std::string dir;                      // uploads; empty: <temporary directory>/miroir-dumps
    std::uint64_t max_bytes = 0;          // the largest upload (0: no limit)
    std::uint32_t batch_bytes = 8 << 20;  // documents per write request
    std::uint32_t tasks_in_flight = 4;    // writes sent before the oldest is waited for
};

// Idempotency keys: a write retried with the same `Idempotency-Key` and request gets the first
// answer again (docs/writes.md).
struct Idempotency {
    std::uint32_t ttl_seconds = 86400;  // how long a key is remembered
};

// Read-your-writes sessions: a read with `X-Miroir-Session` after a write in that session is
// routed to a group that applied the write, waiting for it (docs/search.md, "Sessions").
struct SessionPinning {
    bool enabled = true;
    std::uint32_t ttl_seconds = 900;      // a session is forgotten this long after its last write
    std::string wait_strategy = "block";  // block | route_pin
    std::uint32_t max_wait_ms = 5000;     // block: the longest a read waits for the write
    // sessions remembered at once, for every pod; the ones expiring first make room
    std::uint32_t max_sessions = 100000;
};

// Tenant affinity: the searches of a tenant go to its replica group while that group can
// answer them (docs/search.md, "Tenant affinity").
struct TenantAffinity {
    bool enabled = false;
    bool header = false;                // trust X-Miroir-Tenant (set by a gateway)
    std::string claim = "tenant";       // a tenant token's claim naming the tenant
    std::map<std::string, int> groups;  // tenant → replica group
    std::string fallback = "none";      // an unmapped tenant: none | hash
};

struct Log {
    std::string format = "text";  // text | json
    std::string level = "info";   // debug | info | warn | error
};

struct Config {
    std::string master_key;
    std::string node_master_key;
    std::uint32_t shards = 64;
    std::uint32_t replication_factor = 2;
    std::uint32_t replica_groups = 1;
    // What a write needs of a shard's owners: `one` (any owner in any group), `majority`
    // (floor(c/2)+1 of its c owners in some group) or `all` (every owner in some group); empty:
    // `one` with RF 2, `majority` otherwise (effective_write_quorum).
    std::string write_quorum;
    std::vector<Node> nodes;
    TaskStore task_store;
    Admin admin;
    Server server;
    Health health;
    SettingsSync settings;
    Scatter scatter;
    Upstream upstream;
    Rebalance rebalance;
    AntiEntropy anti_entropy;
    DumpImport dump_import;
    Idempotency idempotency;
    SessionPinning session_pinning;
    TenantAffinity tenant_affinity;
    Log log;

    // Keys present in the file that Miroir does not know (dotted paths), kept for reporting.
    std::vector<std::string> unknown_keys;

    const std::string& effective_write_quorum() const {
        static const std::string kOne = "one", kMajority = "majority";
        if (!write_quorum.empty()) return write_quorum;
        return replication_factor == 2 ? kOne : kMajority;
    }

    // The key that guards /_miroir/*: admin.api_key, or the master key when that is empty.
    const std::string& effective_admin_key() const {
        return admin.api_key.empty() ? master_key : admin.api_key;
    }
};

// A configuration error; the message names the offending key.
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Reads the environment through this function so tests can inject their own.
using EnvLookup = const char* (*)(const char*);

// Parses YAML text (the document root holds a `miroir:` map), applies environment
// overrides, validates. Throws ConfigError.
Config parse(const std::string& yaml_text, EnvLookup env = nullptr);
Config load_file(const std::string& path, EnvLookup env = nullptr);

// Validation alone (parse() calls it).
void validate(Config& config);

// Checks a node's id and address (http://host:port) and fills its host and port; throws
// ConfigError naming `where`.
void check_node(Node& node, const std::string& where);

// task_store.url read (RedisTarget's forms); throws ConfigError naming the setting.
RedisTarget parse_redis_url(const std::string& url);

// The effective configuration as YAML, secrets masked.
std::string to_yaml(const Config& config);

}  // namespace miroir::config
