// Metrics: every Prometheus family Miroir exports is declared in metrics.cpp, in one table.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace miroir::metrics {

class Metrics {
  public:
    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // HTTP requests by route template, method and status.
    void request_started(std::string_view route, std::string_view method);
    void request_finished(std::string_view route, std::string_view method, unsigned status,
                          double seconds);

    // Upstream node requests by node and outcome (ok, error, timeout, canceled).
    void upstream_request(std::string_view node, std::string_view outcome, double seconds);

    // A node's health after a probe; `probe_seconds` < 0 when the probe failed.
    void node_health(std::string_view node, bool healthy, double probe_seconds);

    // A read sent again to other replicas because `node` did not answer.
    void read_retry(std::string_view node);

    // Hedged reads: one sent to another replica, one that answered first, one not sent for
    // want of budget, one side's request cancelled because the other answered first.
    void hedge_fired();
    void hedge_won();
    void hedge_budget_exhausted();
    void hedge_cancelled();

    // A read stopped because its client closed the connection before the answer.
    void client_disconnect();

    // A search answered by another identical search in flight (query coalescing).
    void search_coalesced();

    // Read-your-writes sessions: a read that waited for its session's write, one answered
    // before the write was applied, and how long the wait took.
    void session_pin_enforced();
    void session_wait_timeout();
    void session_wait(double seconds);
    // Sessions forgotten before their time to keep session_pinning.max_sessions.
    void sessions_dropped(std::uint64_t count);
    // A search of a tenant with affinity, and the group that served it (or `fallback`).
    void tenant_read(std::string_view tenant, std::string_view group);
    // A finished task sent to a webhook: delivered, refused or failed.
    void webhook_delivery(std::string_view outcome);

    // Two-phase settings: one node's settings compared, found different, sent again; the
    // committed version of an index and whether its writes are frozen.
    void settings_checked();
    void settings_mismatch(std::string_view index, std::string_view node);
    void settings_repair(std::string_view index, std::string_view node);
    void worker_restart(std::string_view worker);
    void settings_state(std::string_view index, std::uint64_t version, bool frozen);

    // The rebalance: whether one runs, the shards it moves and has copied, documents copied.
    void rebalance_progress(bool running, std::uint64_t shards_moving, std::uint64_t shards_copied);
    void rebalance_documents_copied(std::uint64_t documents);

    // Hints: what nodes missed of acknowledged writes. One stored for `node`; the hints
    // waiting for `node` and the documents they name (set each replay round); one replayed.
    void hint_stored(std::string_view node);
    void hints_pending(std::string_view node, std::uint64_t hints, std::uint64_t documents);
    void hint_replayed(std::string_view node);

    // Anti-entropy: documents read from replicas and their bytes, shards compared (or deferred:
    // an owner down, hints pending, a rebalance), buckets whose digests differed, documents
    // repaired (`action`: written, deleted), full passes over an index finished.
    void antientropy_read(std::uint64_t documents, std::uint64_t bytes);
    void antientropy_shard(bool deferred, std::uint64_t buckets_differing);
    void antientropy_repaired(std::string_view action, std::uint64_t documents);
    void antientropy_pass();
    // A TTL sweep of index `uid` that deleted `documents` expired copies from the nodes.
    void ttl_swept(std::string_view uid, std::uint64_t documents);
    // A rolling index family rolled over to a new index, or one of its old indexes deleted.
    void ilm_rolled(std::string_view policy);
    void ilm_deleted(std::string_view policy);
    // Dump import: bytes of the upload read, documents written, one import finished.
    void dump_read(std::uint64_t bytes);
    void dump_routed(std::uint64_t documents);
    void dump_finished(std::string_view result);
    // Resharding: documents copied into a shadow, mended by a verification; a node write a
    // shadow missed; a reshard step ended (switched, failed, rolled_back, finished).
    void reshard_copied(std::string_view index, std::uint64_t documents);
    void reshard_repaired(std::string_view index, std::uint64_t documents);
    void reshard_shadow_write_missed();
    void reshard_ended(std::string_view result);

    // The Prometheus text exposition format of every family.
    std::string serialize() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace miroir::metrics
