// The table of every metric family Miroir exports (names, help, labels), and their updates.
//
//   miroir_http_requests_total            counter    route, method, status
//   miroir_http_request_duration_seconds  histogram  route, method, status
//   miroir_http_requests_in_flight        gauge      route, method
//   miroir_upstream_requests_total        counter    node, outcome
//   miroir_upstream_request_duration_seconds histogram node, outcome
//   miroir_node_healthy                   gauge      node
//   miroir_node_probe_seconds             gauge      node
//   miroir_read_retries_total             counter    node
//   miroir_hedges_total                   counter    result (fired, won)
//   miroir_hedge_budget_exhausted_total   counter
//   miroir_hedge_cancelled_total          counter    (the slower side of a hedged read)
//   miroir_client_disconnects_total       counter    (reads stopped because the client left)
//   miroir_search_coalesced_total         counter    (searches answered by an identical one)
//   miroir_session_pin_enforced_total     counter    (session reads that waited for a write)
//   miroir_session_wait_timeout_total     counter    (session reads answered stale)
//   miroir_session_wait_duration_seconds  histogram
//   miroir_sessions_dropped_total         counter    (sessions forgotten to keep max_sessions)
//   miroir_tenant_reads_total             counter    tenant, group (or `fallback`)
//   miroir_webhook_deliveries_total       counter    outcome (delivered, refused, failed)
//   miroir_settings_checks_total          counter    (one node's settings compared)
//   miroir_settings_mismatches_total      counter    index, node
//   miroir_settings_repairs_total         counter    index, node
//   miroir_settings_frozen                gauge      index
//   miroir_settings_version               gauge      index
//   miroir_rebalance_running              gauge
//   miroir_rebalance_shards               gauge      state (moving, copied)
//   miroir_rebalance_documents_copied_total counter
//   miroir_worker_restarts_total          counter    worker
//   miroir_hints_stored_total             counter    node (writes the node missed)
//   miroir_hints_replayed_total           counter    node
//   miroir_hints_pending                  gauge      node, kind (hints, documents)
//   miroir_antientropy_documents_read_total counter
//   miroir_antientropy_bytes_read_total   counter
//   miroir_antientropy_shards_total       counter    outcome (compared, deferred)
//   miroir_antientropy_buckets_differing_total counter
//   miroir_antientropy_documents_repaired_total counter action (written, deleted)
//   miroir_antientropy_passes_total       counter    (full passes over an index)
//   miroir_ttl_sweeps_total               counter    index
//   miroir_ttl_documents_deleted_total    counter    index (expired copies deleted from nodes)
//   miroir_ilm_rollovers_total            counter    policy
//   miroir_ilm_indexes_deleted_total      counter    policy
//   miroir_dump_import_bytes_read_total   counter    (bytes of uploaded dumps read)
//   miroir_dump_import_documents_routed_total counter (documents written through the fleet)
//   miroir_dump_imports_total             counter    result (succeeded, failed)
//   miroir_reshard_documents_copied_total counter    index (backfilled into a shadow)
//   miroir_reshard_documents_repaired_total counter  index (mended by a verification)
//   miroir_reshard_shadow_writes_missed_total counter (node writes a shadow missed)
//   miroir_reshards_total                 counter    result (switched, failed, rolled_back,
//                                                     finished)
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <miroir/metrics/metrics.hpp>

namespace miroir::metrics {

namespace {

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
    static const prometheus::Histogram::BucketBoundaries buckets{
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    return buckets;
}

}  // namespace

struct Metrics::Impl {
    prometheus::Registry registry;

    prometheus::Family<prometheus::Counter>& http_requests =
        prometheus::BuildCounter()
            .Name("miroir_http_requests_total")
            .Help("HTTP requests answered, by route template, method and status")
            .Register(registry);
    prometheus::Family<prometheus::Histogram>& http_duration =
        prometheus::BuildHistogram()
            .Name("miroir_http_request_duration_seconds")
            .Help("Time from a request's arrival to its response, by route, method and status")
            .Register(registry);
    prometheus::Family<prometheus::Gauge>& http_in_flight =
        prometheus::BuildGauge()
            .Name("miroir_http_requests_in_flight")
            .Help("HTTP requests being handled, by route template and method")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& upstream_requests =
        prometheus::BuildCounter()
            .Name("miroir_upstream_requests_total")
            .Help("Requests sent to nodes, by node and outcome (ok, error, timeout, canceled)")
            .Register(registry);
    prometheus::Family<prometheus::Histogram>& upstream_duration =
        prometheus::BuildHistogram()
            .Name("miroir_upstream_request_duration_seconds")
            .Help("Duration of requests sent to nodes, by node and outcome")
            .Register(registry);
    prometheus::Family<prometheus::Gauge>& node_healthy =
        prometheus::BuildGauge()
            .Name("miroir_node_healthy")
            .Help("1 when the node's health probes pass (healthy), 0 when suspect or down")
            .Register(registry);
    prometheus::Family<prometheus::Gauge>& node_probe =
        prometheus::BuildGauge()
            .Name("miroir_node_probe_seconds")
            .Help("Round trip of the node's last good health probe")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& read_retries =
        prometheus::BuildCounter()
            .Name("miroir_read_retries_total")
            .Help("Reads sent again to other replicas because this node did not answer")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& hedges =
        prometheus::BuildCounter()
            .Name("miroir_hedges_total")
            .Help("Hedged reads: fired (sent to another replica), won (answered first)")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& hedge_budget =
        prometheus::BuildCounter()
            .Name("miroir_hedge_budget_exhausted_total")
            .Help("Slow reads not hedged because the hedge budget was spent")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& hedge_cancelled =
        prometheus::BuildCounter()
            .Name("miroir_hedge_cancelled_total")
            .Help("Node requests of a hedged read cancelled because the other side answered first")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& client_disconnects =
        prometheus::BuildCounter()
            .Name("miroir_client_disconnects_total")
            .Help(
                "Reads whose node requests were cancelled because the client closed the "
                "connection first")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& search_coalesced =
        prometheus::BuildCounter()
            .Name("miroir_search_coalesced_total")
            .Help("Searches answered by an identical search already in flight (no scatter)")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& session_pinned =
        prometheus::BuildCounter()
            .Name("miroir_session_pin_enforced_total")
            .Help("Reads in a session that waited for the session's last write")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& session_timeouts =
        prometheus::BuildCounter()
            .Name("miroir_session_wait_timeout_total")
            .Help("Reads in a session answered before its last write was applied (max_wait_ms)")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& sessions_dropped =
        prometheus::BuildCounter()
            .Name("miroir_sessions_dropped_total")
            .Help(
                "Sessions forgotten before they expired, the ones expiring first, to keep "
                "session_pinning.max_sessions")
            .Register(registry);
    prometheus::Family<prometheus::Histogram>& session_wait =
        prometheus::BuildHistogram()
            .Name("miroir_session_wait_duration_seconds")
            .Help("Time a read in a session waited for the session's last write")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& tenant_reads =
        prometheus::BuildCounter()
            .Name("miroir_tenant_reads_total")
            .Help(
                "Searches of a tenant with affinity, by tenant (configured ones by name, the "
                "others `unmapped`) and the group that served them (`fallback`: any group)")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& webhook_deliveries =
        prometheus::BuildCounter()
            .Name("miroir_webhook_deliveries_total")
            .Help(
                "Finished tasks sent to a webhook, by outcome: delivered (a 2xx answer), "
                "refused (another status), failed (no answer)")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& settings_checks =
        prometheus::BuildCounter()
            .Name("miroir_settings_checks_total")
            .Help("Node settings read back and compared with the committed settings")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& settings_mismatches =
        prometheus::BuildCounter()
            .Name("miroir_settings_mismatches_total")
            .Help("Node settings found different from the committed settings")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& settings_repairs =
        prometheus::BuildCounter()
            .Name("miroir_settings_repairs_total")
            .Help("Committed settings sent again to a node that diverged")
            .Register(registry);
    prometheus::Family<prometheus::Gauge>& settings_frozen =
        prometheus::BuildGauge()
            .Name("miroir_settings_frozen")
            .Help("1 while writes to the index are frozen: a node's settings cannot be repaired")
            .Register(registry);
    prometheus::Family<prometheus::Gauge>& settings_version =
        prometheus::BuildGauge()
            .Name("miroir_settings_version")
            .Help("The committed settings version of the index")
            .Register(registry);
    prometheus::Gauge& rebalance_running = prometheus::BuildGauge()
                                               .Name("miroir_rebalance_running")
                                               .Help("1 while this Miroir drives a rebalance")
                                               .Register(registry)
                                               .Add({});
    prometheus::Family<prometheus::Gauge>& rebalance_shards =
        prometheus::BuildGauge()
            .Name("miroir_rebalance_shards")
            .Help("Shards the current rebalance moves (state=moving) and has copied (copied)")
            .Register(registry);
    prometheus::Counter& rebalance_documents =
        prometheus::BuildCounter()
            .Name("miroir_rebalance_documents_copied_total")
            .Help("Documents copied from node to node by rebalances")
            .Register(registry)
            .Add({});
    prometheus::Family<prometheus::Counter>& hints_stored =
        prometheus::BuildCounter()
            .Name("miroir_hints_stored_total")
            .Help("Acknowledged writes a node missed, stored as hints for it")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& hints_replayed =
        prometheus::BuildCounter()
            .Name("miroir_hints_replayed_total")
            .Help("Hints replayed to the node that missed the write")
            .Register(registry);
    prometheus::Family<prometheus::Gauge>& hints_pending =
        prometheus::BuildGauge()
            .Name("miroir_hints_pending")
            .Help(
                "Hints waiting for the node (kind=hints) and the documents they name "
                "(kind=documents), as the last replay round found them")
            .Register(registry);
    prometheus::Counter& ae_documents = prometheus::BuildCounter()
                                            .Name("miroir_antientropy_documents_read_total")
                                            .Help("Documents anti-entropy read from replicas")
                                            .Register(registry)
                                            .Add({});
    prometheus::Counter& ae_bytes = prometheus::BuildCounter()
                                        .Name("miroir_antientropy_bytes_read_total")
                                        .Help("Bytes of node answers anti-entropy read")
                                        .Register(registry)
                                        .Add({});
    prometheus::Family<prometheus::Counter>& ae_shards =
        prometheus::BuildCounter()
            .Name("miroir_antientropy_shards_total")
            .Help(
                "Shards whose replicas anti-entropy compared (outcome=compared) or left for a "
                "later pass (outcome=deferred)")
            .Register(registry);
    prometheus::Counter& ae_buckets = prometheus::BuildCounter()
                                          .Name("miroir_antientropy_buckets_differing_total")
                                          .Help("Buckets whose digests differed between replicas")
                                          .Register(registry)
                                          .Add({});
    prometheus::Family<prometheus::Counter>& ae_repaired =
        prometheus::BuildCounter()
            .Name("miroir_antientropy_documents_repaired_total")
            .Help("Documents anti-entropy wrote to a replica or deleted from a node")
            .Register(registry);
    prometheus::Counter& ae_passes = prometheus::BuildCounter()
                                         .Name("miroir_antientropy_passes_total")
                                         .Help("Full anti-entropy passes over an index finished")
                                         .Register(registry)
                                         .Add({});
    prometheus::Family<prometheus::Counter>& ttl_sweeps = prometheus::BuildCounter()
                                                              .Name("miroir_ttl_sweeps_total")
                                                              .Help("TTL sweeps of an index")
                                                              .Register(registry);
    prometheus::Family<prometheus::Counter>& ttl_deleted =
        prometheus::BuildCounter()
            .Name("miroir_ttl_documents_deleted_total")
            .Help("Expired document copies the TTL sweeper deleted from the nodes")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& ilm_rollovers =
        prometheus::BuildCounter()
            .Name("miroir_ilm_rollovers_total")
            .Help("Rolling index families rolled over to a new index")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& ilm_deleted =
        prometheus::BuildCounter()
            .Name("miroir_ilm_indexes_deleted_total")
            .Help("Old indexes of rolling index families deleted past their retention")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& dump_bytes =
        prometheus::BuildCounter()
            .Name("miroir_dump_import_bytes_read_total")
            .Help("Bytes of uploaded Meilisearch dumps read by imports")
            .Register(registry);
    prometheus::Counter& dump_bytes_total = dump_bytes.Add({});
    prometheus::Family<prometheus::Counter>& dump_documents =
        prometheus::BuildCounter()
            .Name("miroir_dump_import_documents_routed_total")
            .Help("Documents of imported dumps written to their owners")
            .Register(registry);
    prometheus::Counter& dump_documents_total = dump_documents.Add({});
    prometheus::Family<prometheus::Counter>& dump_imports =
        prometheus::BuildCounter()
            .Name("miroir_dump_imports_total")
            .Help("Dump imports finished, by result")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& reshard_copied =
        prometheus::BuildCounter()
            .Name("miroir_reshard_documents_copied_total")
            .Help("Documents copied into the shadows of indexes being resharded")
            .Register(registry);
    prometheus::Family<prometheus::Counter>& reshard_repaired =
        prometheus::BuildCounter()
            .Name("miroir_reshard_documents_repaired_total")
            .Help("Documents of shadows mended by a reshard's verification")
            .Register(registry);
    prometheus::Counter& reshard_missed =
        prometheus::BuildCounter()
            .Name("miroir_reshard_shadow_writes_missed_total")
            .Help("Node writes the shadow of an index being resharded did not take")
            .Register(registry)
            .Add({});
    prometheus::Family<prometheus::Counter>& reshards = prometheus::BuildCounter()
                                                            .Name("miroir_reshards_total")
                                                            .Help("Reshard steps ended, by result")
                                                            .Register(registry);
    prometheus::Family<prometheus::Counter>& worker_restarts =
        prometheus::BuildCounter()
            .Name("miroir_worker_restarts_total")
            .Help("Background jobs started again after they failed")
            .Register(registry);
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::request_started(std::string_view route, std::string_view method) {
    impl_->http_in_flight.Add({{"route", std::string(route)}, {"method", std::string(method)}})
        .Increment();
}

void Metrics::request_finished(std::string_view route, std::string_view method, unsigned status,
                               double seconds) {
    const std::string r(route), m(method), s = std::to_string(status);
    impl_->http_in_flight.Add({{"route", r}, {"method", m}}).Decrement();
    impl_->http_requests.Add({{"route", r}, {"method", m}, {"status", s}}).Increment();
    impl_->http_duration.Add({{"route", r}, {"method", m}, {"status", s}}, latency_buckets())
        .Observe(seconds);
}

void Metrics::upstream_request(std::string_view node, std::string_view outcome, double seconds) {
    const std::string n(node), o(outcome);
    impl_->upstream_requests.Add({{"node", n}, {"outcome", o}}).Increment();
    impl_->upstream_duration.Add({{"node", n}, {"outcome", o}}, latency_buckets()).Observe(seconds);
}

void Metrics::node_health(std::string_view node, bool healthy, double probe_seconds) {
    const std::string n(node);
    impl_->node_healthy.Add({{"node", n}}).Set(healthy ? 1 : 0);
    if (probe_seconds >= 0) impl_->node_probe.Add({{"node", n}}).Set(probe_seconds);
}

void Metrics::read_retry(std::string_view node) {
    impl_->read_retries.Add({{"node", std::string(node)}}).Increment();
}

void Metrics::hedge_fired() { impl_->hedges.Add({{"result", "fired"}}).Increment(); }
void Metrics::hedge_won() { impl_->hedges.Add({{"result", "won"}}).Increment(); }
void Metrics::hedge_budget_exhausted() { impl_->hedge_budget.Add({}).Increment(); }
void Metrics::hedge_cancelled() { impl_->hedge_cancelled.Add({}).Increment(); }
void Metrics::client_disconnect() { impl_->client_disconnects.Add({}).Increment(); }
void Metrics::search_coalesced() { impl_->search_coalesced.Add({}).Increment(); }
void Metrics::tenant_read(std::string_view tenant, std::string_view group) {
    impl_->tenant_reads.Add({{"tenant", std::string(tenant)}, {"group", std::string(group)}})
        .Increment();
}
void Metrics::webhook_delivery(std::string_view outcome) {
    impl_->webhook_deliveries.Add({{"outcome", std::string(outcome)}}).Increment();
}
void Metrics::session_pin_enforced() { impl_->session_pinned.Add({}).Increment(); }
void Metrics::session_wait_timeout() { impl_->session_timeouts.Add({}).Increment(); }
void Metrics::sessions_dropped(std::uint64_t count) {
    impl_->sessions_dropped.Add({}).Increment(static_cast<double>(count));
}
void Metrics::session_wait(double seconds) {
    impl_->session_wait.Add({}, latency_buckets()).Observe(seconds);
}

void Metrics::settings_checked() { impl_->settings_checks.Add({}).Increment(); }
void Metrics::settings_mismatch(std::string_view index, std::string_view node) {
    impl_->settings_mismatches.Add({{"index", std::string(index)}, {"node", std::string(node)}})
        .Increment();
}
void Metrics::worker_restart(std::string_view worker) {
    impl_->worker_restarts.Add({{"worker", std::string(worker)}}).Increment();
}
void Metrics::settings_repair(std::string_view index, std::string_view node) {
    impl_->settings_repairs.Add({{"index", std::string(index)}, {"node", std::string(node)}})
        .Increment();
}
void Metrics::settings_state(std::string_view index, std::uint64_t version, bool frozen) {
    impl_->settings_version.Add({{"index", std::string(index)}}).Set(static_cast<double>(version));
    impl_->settings_frozen.Add({{"index", std::string(index)}}).Set(frozen ? 1 : 0);
}

void Metrics::rebalance_progress(bool running, std::uint64_t shards_moving,
                                 std::uint64_t shards_copied) {
    impl_->rebalance_running.Set(running ? 1 : 0);
    impl_->rebalance_shards.Add({{"state", "moving"}}).Set(static_cast<double>(shards_moving));
    impl_->rebalance_shards.Add({{"state", "copied"}}).Set(static_cast<double>(shards_copied));
}

void Metrics::rebalance_documents_copied(std::uint64_t documents) {
    impl_->rebalance_documents.Increment(static_cast<double>(documents));
}

void Metrics::hint_stored(std::string_view node) {
    impl_->hints_stored.Add({{"node", std::string(node)}}).Increment();
}
void Metrics::hints_pending(std::string_view node, std::uint64_t hints, std::uint64_t documents) {
    impl_->hints_pending.Add({{"node", std::string(node)}, {"kind", "hints"}})
        .Set(static_cast<double>(hints));
    impl_->hints_pending.Add({{"node", std::string(node)}, {"kind", "documents"}})
        .Set(static_cast<double>(documents));
}
void Metrics::hint_replayed(std::string_view node) {
    impl_->hints_replayed.Add({{"node", std::string(node)}}).Increment();
}

void Metrics::antientropy_read(std::uint64_t documents, std::uint64_t bytes) {
    impl_->ae_documents.Increment(static_cast<double>(documents));
    impl_->ae_bytes.Increment(static_cast<double>(bytes));
}
void Metrics::antientropy_shard(bool deferred, std::uint64_t buckets_differing) {
    impl_->ae_shards.Add({{"outcome", deferred ? "deferred" : "compared"}}).Increment();
    impl_->ae_buckets.Increment(static_cast<double>(buckets_differing));
}
void Metrics::antientropy_repaired(std::string_view action, std::uint64_t documents) {
    impl_->ae_repaired.Add({{"action", std::string(action)}})
        .Increment(static_cast<double>(documents));
}
void Metrics::antientropy_pass() { impl_->ae_passes.Increment(); }
void Metrics::ilm_rolled(std::string_view policy) {
    impl_->ilm_rollovers.Add({{"policy", std::string(policy)}}).Increment();
}
void Metrics::dump_read(std::uint64_t bytes) {
    impl_->dump_bytes_total.Increment(static_cast<double>(bytes));
}
void Metrics::dump_routed(std::uint64_t documents) {
    impl_->dump_documents_total.Increment(static_cast<double>(documents));
}
void Metrics::dump_finished(std::string_view result) {
    impl_->dump_imports.Add({{"result", std::string(result)}}).Increment();
}
void Metrics::reshard_copied(std::string_view index, std::uint64_t documents) {
    impl_->reshard_copied.Add({{"index", std::string(index)}})
        .Increment(static_cast<double>(documents));
}
void Metrics::reshard_repaired(std::string_view index, std::uint64_t documents) {
    impl_->reshard_repaired.Add({{"index", std::string(index)}})
        .Increment(static_cast<double>(documents));
}
void Metrics::reshard_shadow_write_missed() { impl_->reshard_missed.Increment(); }
void Metrics::reshard_ended(std::string_view result) {
    impl_->reshards.Add({{"result", std::string(result)}}).Increment();
}
void Metrics::ilm_deleted(std::string_view policy) {
    impl_->ilm_deleted.Add({{"policy", std::string(policy)}}).Increment();
}
void Metrics::ttl_swept(std::string_view uid, std::uint64_t documents) {
    impl_->ttl_sweeps.Add({{"index", std::string(uid)}}).Increment();
    impl_->ttl_deleted.Add({{"index", std::string(uid)}}).Increment(static_cast<double>(documents));
}

std::string Metrics::serialize() const {
    return prometheus::TextSerializer{}.Serialize(impl_->registry.Collect());
}

}  // namespace miroir::metrics
