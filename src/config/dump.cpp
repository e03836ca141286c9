// The masked YAML dump of a Config used by `miroir check-config`: every setting as it is in
// effect, secrets and the task store URL's password masked.
#include <string>

#include <yaml-cpp/yaml.h>

#include <miroir/config/config.hpp>

namespace miroir::config {

namespace {

std::string mask(const std::string& secret) { return secret.empty() ? "" : "********"; }

std::string mask_url(const std::string& url) {
    const auto at = url.find('@');
    const auto scheme = url.find("://");
    if (at == std::string::npos || scheme == std::string::npos || at < scheme) return url;
    return url.substr(0, scheme + 3) + "********" + url.substr(at);
}

// What clients ask per request: idempotency keys, sessions, tenant affinity.
void emit_requests(YAML::Emitter& out, const Config& c) {
    out << YAML::Key << "idempotency" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "ttl_seconds" << YAML::Value << c.idempotency.ttl_seconds;
    out << YAML::EndMap;
    const auto& sp = c.session_pinning;
    out << YAML::Key << "session_pinning" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "enabled" << YAML::Value << sp.enabled;
    out << YAML::Key << "ttl_seconds" << YAML::Value << sp.ttl_seconds;
    out << YAML::Key << "wait_strategy" << YAML::Value << sp.wait_strategy;
    out << YAML::Key << "max_wait_ms" << YAML::Value << sp.max_wait_ms;
    out << YAML::Key << "max_sessions" << YAML::Value << sp.max_sessions;
    out << YAML::EndMap;
    const auto& ta = c.tenant_affinity;
    out << YAML::Key << "tenant_affinity" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "enabled" << YAML::Value << ta.enabled;
    out << YAML::Key << "header" << YAML::Value << ta.header;
    out << YAML::Key << "claim" << YAML::Value << ta.claim;
    out << YAML::Key << "fallback" << YAML::Value << ta.fallback;
    out << YAML::Key << "groups" << YAML::Value << YAML::Flow << YAML::BeginMap;
    for (const auto& [tenant, group] : ta.groups)
        out << YAML::Key << tenant << YAML::Value << group;
    out << YAML::EndMap << YAML::EndMap;
}

// The background jobs that move and repair documents: rebalance, anti-entropy.
void emit_background(YAML::Emitter& out, const Config& c) {
    const auto& rb = c.rebalance;
    out << YAML::Key << "rebalance" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "page_size" << YAML::Value << rb.page_size;
    out << YAML::Key << "pause_ms" << YAML::Value << rb.pause_ms;
    out << YAML::Key << "topology_poll_ms" << YAML::Value << rb.topology_poll_ms;
    out << YAML::Key << "gate_poll_ms" << YAML::Value << rb.gate_poll_ms;
    out << YAML::Key << "lease_ms" << YAML::Value << rb.lease_ms;
    out << YAML::Key << "task_timeout_ms" << YAML::Value << rb.task_timeout_ms;
    out << YAML::EndMap;
    const auto& ae = c.anti_entropy;
    out << YAML::Key << "anti_entropy" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "enabled" << YAML::Value << ae.enabled;
    out << YAML::Key << "interval_s" << YAML::Value << ae.interval_s;
    out << YAML::Key << "page_size" << YAML::Value << ae.page_size;
    out << YAML::Key << "documents_per_second" << YAML::Value << ae.documents_per_second;
    out << YAML::Key << "buckets" << YAML::Value << ae.buckets;
    out << YAML::Key << "repairs_per_hold" << YAML::Value << ae.repairs_per_hold;
    out << YAML::EndMap;
    const auto& d = c.dump_import;
    out << YAML::Key << "dump_import" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "dir" << YAML::Value << d.dir;
    out << YAML::Key << "max_bytes" << YAML::Value << d.max_bytes;
    out << YAML::Key << "batch_bytes" << YAML::Value << d.batch_bytes;
    out << YAML::Key << "tasks_in_flight" << YAML::Value << d.tasks_in_flight;
    out << YAML::EndMap;
}

void emit_scatter(YAML::Emitter& out, const Scatter& sc) {
    out << YAML::Key << "scatter" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "node_timeout_ms" << YAML::Value << sc.node_timeout_ms;
    out << YAML::Key << "read_deadline_ms" << YAML::Value << sc.read_deadline_ms;
    out << YAML::Key << "search_coalescing" << YAML::Value << sc.search_coalescing;
    out << YAML::Key << "unavailable_shard_policy" << YAML::Value << sc.unavailable_shard_policy;
    out << YAML::Key << "replica_selection" << YAML::Value << sc.replica_selection;
    const auto& ad = sc.adaptive;
    out << YAML::Key << "adaptive" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "latency_weight" << YAML::Value << ad.latency_weight;
    out << YAML::Key << "inflight_weight" << YAML::Value << ad.inflight_weight;
    out << YAML::Key << "error_weight" << YAML::Value << ad.error_weight;
    out << YAML::Key << "half_life_ms" << YAML::Value << ad.half_life_ms;
    out << YAML::Key << "epsilon" << YAML::Value << ad.epsilon << YAML::EndMap;
    const auto& he = sc.hedging;
    out << YAML::Key << "hedging" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "enabled" << YAML::Value << he.enabled;
    out << YAML::Key << "multiplier" << YAML::Value << he.multiplier;
    out << YAML::Key << "floor_ms" << YAML::Value << he.floor_ms;
    out << YAML::Key << "budget_fraction" << YAML::Value << he.budget_fraction;
    out << YAML::Key << "cross_group" << YAML::Value << he.cross_group << YAML::EndMap;
    out << YAML::EndMap;
}

}  // namespace

std::string to_yaml(const Config& c) {
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << "miroir" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "master_key" << YAML::Value << mask(c.master_key);
    out << YAML::Key << "node_master_key" << YAML::Value << mask(c.node_master_key);
    out << YAML::Key << "shards" << YAML::Value << c.shards;
    out << YAML::Key << "replication_factor" << YAML::Value << c.replication_factor;
    out << YAML::Key << "replica_groups" << YAML::Value << c.replica_groups;
    out << YAML::Key << "write_quorum" << YAML::Value << c.effective_write_quorum();
    out << YAML::Key << "nodes" << YAML::Value << YAML::BeginSeq;
    for (const auto& n : c.nodes) {
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "id" << YAML::Value << n.id << YAML::Key
            << "address" << YAML::Value << n.address << YAML::Key << "replica_group" << YAML::Value
            << n.replica_group << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "task_store" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "backend" << YAML::Value << c.task_store.backend;
    out << YAML::Key << "path" << YAML::Value << c.task_store.path;
    out << YAML::Key << "url" << YAML::Value << mask_url(c.task_store.url);
    out << YAML::Key << "password" << YAML::Value << mask(c.task_store.password);
    out << YAML::Key << "tls_ca_file" << YAML::Value << c.task_store.tls_ca_file;
    out << YAML::Key << "command_timeout_ms" << YAML::Value << c.task_store.command_timeout_ms;
    out << YAML::Key << "poll_interval_ms" << YAML::Value << c.task_store.poll_interval_ms;
    out << YAML::Key << "retention_hours" << YAML::Value << c.task_store.retention_hours
        << YAML::EndMap;
    out << YAML::Key << "admin" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "api_key" << YAML::Value << mask(c.admin.api_key) << YAML::EndMap;
    const auto& s = c.server;
    out << YAML::Key << "server" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "bind" << YAML::Value << s.bind;
    out << YAML::Key << "port" << YAML::Value << s.port;
    out << YAML::Key << "metrics_port" << YAML::Value << s.metrics_port;
    out << YAML::Key << "max_body_bytes" << YAML::Value << s.max_body_bytes;
    out << YAML::Key << "compress_responses" << YAML::Value << s.compress_responses;
    out << YAML::Key << "threads" << YAML::Value << s.threads;
    out << YAML::Key << "header_timeout_ms" << YAML::Value << s.header_timeout_ms;
    out << YAML::Key << "body_timeout_ms" << YAML::Value << s.body_timeout_ms;
    out << YAML::Key << "idle_timeout_ms" << YAML::Value << s.idle_timeout_ms;
    out << YAML::Key << "shutdown_grace_ms" << YAML::Value << s.shutdown_grace_ms;
    out << YAML::EndMap;
    const auto& h = c.health;
    out << YAML::Key << "health" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "interval_ms" << YAML::Value << h.interval_ms;
    out << YAML::Key << "timeout_ms" << YAML::Value << h.timeout_ms;
    out << YAML::Key << "unhealthy_threshold" << YAML::Value << h.unhealthy_threshold;
    out << YAML::Key << "recovery_threshold" << YAML::Value << h.recovery_threshold;
    out << YAML::EndMap;
    const auto& st = c.settings;
    out << YAML::Key << "settings" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "drift_check_interval_ms" << YAML::Value << st.drift_check_interval_ms;
    out << YAML::Key << "repair_attempts" << YAML::Value << st.repair_attempts;
    out << YAML::Key << "repair_backoff_ms" << YAML::Value << st.repair_backoff_ms;
    out << YAML::EndMap;
    emit_scatter(out, c.scatter);
    const auto& u = c.upstream;
    out << YAML::Key << "upstream" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "max_connections_per_node" << YAML::Value << u.max_connections_per_node;
    out << YAML::Key << "idle_connections_per_node" << YAML::Value << u.idle_connections_per_node;
    out << YAML::Key << "connect_timeout_ms" << YAML::Value << u.connect_timeout_ms;
    out << YAML::Key << "write_timeout_ms" << YAML::Value << u.write_timeout_ms;
    out << YAML::EndMap;
    emit_background(out, c);
    emit_requests(out, c);
    out << YAML::Key << "log" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "format" << YAML::Value << c.log.format;
    out << YAML::Key << "level" << YAML::Value << c.log.level << YAML::EndMap;
    out << YAML::EndMap << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace miroir::config
