// The task store: Miroir's own tasks (what clients poll) mapped to the node tasks that carry
// them out, and the catalogue of indexes Miroir manages. One interface, two backends: embedded
// SQLite (one Miroir) and Redis (several Miroir pods).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace miroir::config {
struct TaskStore;
}

namespace miroir::tasks {

// One node's share of a Miroir task, with what the node last reported about it.
struct NodeTask {
    std::string node;
    std::uint64_t uid = 0;
    std::string status = "enqueued";
    std::string error;                   // the node's error object (JSON text) when failed
    std::int64_t deleted_documents = 0;  // from the node task's details
    std::int64_t started_at = 0;         // ns since the epoch; 0 = not yet
    std::int64_t finished_at = 0;
    std::int64_t edited_documents = 0;  // a documentEdition's, from the node task's details
    // the node task's details (JSON text) when Miroir takes them as they are (dynamic search
    // rules) or sums them (an indexCompaction's sizes)
    std::string details;
};

struct Task {
    std::uint64_t uid = 0;
    std::string index_uid;  // empty for tasks on no index
    std::string type;       // Meilisearch task type
    std::string status = "enqueued";
    std::string details;  // JSON object text; empty when the type has none
    std::string error;    // JSON object text when failed
    std::optional<std::uint64_t> canceled_by;
    // the client's `customMetadata` query parameter, returned with the task
    std::optional<std::string> custom_metadata;
    std::int64_t enqueued_at = 0;  // ns since the epoch
    std::int64_t started_at = 0;   // 0 = null
    std::int64_t finished_at = 0;
    // Copies of each document across the fleet: node counts of deleted documents are
    // divided by it to count the client's documents.
    std::uint32_t copies = 1;
    // A cancelation asked for this task: its uid becomes canceledBy if the task ends canceled.
    std::optional<std::uint64_t> cancel_requested_by;
    // A cancelation: how many unfinished tasks it was sent for (its final canceledTasks).
    std::uint64_t planned = 0;
    // A deletion: the tasks it deletes once each of them has finished.
    std::vector<std::uint64_t> targets;
    std::vector<NodeTask> node_tasks;

    bool finished() const {
        return status == "succeeded" || status == "failed" || status == "canceled";
    }
};

// GET /tasks filters; empty lists and unset bounds do not filter. Dates in ns since the epoch,
// exclusive bounds.
struct TaskFilter {
    std::vector<std::uint64_t> uids;
    std::vector<std::string> statuses;
    std::vector<std::string> types;
    std::vector<std::string> index_uids;
    // The indexes of an API key (exact uids, or prefixes ending with `*`): when set, only
    // tasks of those indexes match (no instance-wide task).
    std::optional<std::vector<std::string>> index_patterns;
    std::vector<std::uint64_t> canceled_by;
    std::optional<std::int64_t> before_enqueued_at, after_enqueued_at;
    std::optional<std::int64_t> before_started_at, after_started_at;
    std::optional<std::int64_t> before_finished_at, after_finished_at;
    // only tasks that started (each is its own batch: GET /batches)
    bool started = false;
};

struct TaskPage {
    std::vector<Task> tasks;
    std::uint64_t total = 0;            // matching the filter, ignoring from/limit
    std::optional<std::uint64_t> next;  // the uid to continue from
};

// What Miroir knows of an index.
struct IndexRecord {
    std::string uid;
    std::optional<std::string> primary_key;
    std::uint32_t shards = 0;
};

// Thrown by a call when the store cannot be reached (Redis down); the message says why.
struct Unavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Every call may suspend (the Redis store talks to Redis); the SQLite store answers at once.
class Store {
  public:
    template <typename T>
    using Async = boost::asio::awaitable<T>;

    virtual ~Store() = default;

    // Stores a new task and gives it the next uid (0, 1, 2... across every Miroir sharing the
    // store); returns the uid.
    virtual Async<std::uint64_t> create(Task& task) = 0;
    virtual Async<std::optional<Task>> get(std::uint64_t uid) = 0;
    virtual Async<void> update(const Task& task) = 0;
    // Newest first (oldest first when `reverse`), starting at `from` inclusive.
    virtual Async<TaskPage> list(const TaskFilter& filter, std::optional<std::uint64_t> from,
                                 std::uint32_t limit, bool reverse) = 0;
    virtual Async<std::vector<Task>> unfinished(std::uint32_t limit) = 0;
    // Deletes finished tasks that finished before `before` (ns); returns how many.
    virtual Async<std::uint64_t> prune(std::int64_t before) = 0;
    virtual Async<std::uint64_t> erase(const std::vector<std::uint64_t>& uids) = 0;

    virtual Async<std::optional<IndexRecord>> index(const std::string& uid) = 0;
    virtual Async<void> put_index(const IndexRecord& index) = 0;
    virtual Async<void> erase_index(const std::string& uid) = 0;

    // The settings state of an index (committed settings version, each node's verified
    // version), as an opaque JSON text owned by the settings code.
    virtual Async<std::optional<std::string>> settings_state(const std::string& uid) = 0;
    virtual Async<std::vector<std::pair<std::string, std::string>>> settings_states() = 0;
    // Stores `state` when the stored state is still `expected` (nullopt: none), atomically
    // across pods; false, storing nothing, when another pod changed it meanwhile.
    virtual Async<bool> put_settings_state(const std::string& uid,
                                           const std::optional<std::string>& expected,
                                           const std::string& state) = 0;
    virtual Async<void> erase_settings_state(const std::string& uid) = 0;

    // The topology (JSON text owned by the topology code) and its version; nullopt before it
    // was first stored.
    virtual Async<std::optional<std::string>> topology() = 0;
    // Stores `text` as version `version` when the stored version is still `expected` (0: none
    // stored yet); false when another writer came first.
    virtual Async<bool> put_topology(const std::string& text, std::uint64_t version,
                                     std::uint64_t expected) = 0;
    // Takes the lease `name` for `holder`, or extends it when `holder` has it, for `ttl_ms`;
    // false while another holder's lease runs.
    virtual Async<bool> lease(const std::string& name, const std::string& holder,
                              std::uint32_t ttl_ms) = 0;

    // Small shared records the pods coordinate through (the rebalance's write gate, each
    // pod's acknowledgement of it): tables of key → value.
    virtual Async<void> put_record(const std::string& table, const std::string& key,
                                   const std::string& value) = 0;
    virtual Async<std::vector<std::pair<std::string, std::string>>> records(
        const std::string& table) = 0;
    virtual Async<void> erase_record(const std::string& table, const std::string& key) = 0;
    // Stores `value` under `key` when the stored value is still `expected` (nullopt: none),
    // atomically across pods; false, storing nothing, when another pod changed it meanwhile.
    virtual Async<bool> put_record_if(const std::string& table, const std::string& key,
                                      const std::optional<std::string>& expected,
                                      const std::string& value) = 0;

    // Values that expire (idempotency keys, sessions): `claim` stores `value` under `key` for
    // `ttl_ms` unless a value that has not expired is there, atomically for every pod; it returns
    // that value, or nullopt when it stored its own. `put_expiring` replaces a value, `forget`
    // removes it.
    virtual Async<std::optional<std::string>> claim(const std::string& key,
                                                    const std::string& value,
                                                    std::uint32_t ttl_ms) = 0;
    virtual Async<void> put_expiring(const std::string& key, const std::string& value,
                                     std::uint32_t ttl_ms) = 0;
    virtual Async<void> forget(const std::string& key) = 0;
    // `put_expiring` for a value of a bounded family (read-your-writes sessions): at most
    // `most` values whose keys begin with `family` and have not expired are kept, for every
    // pod; the ones expiring first make room. Returns how many values were dropped.
    virtual Async<std::uint64_t> put_bounded(const std::string& family, const std::string& key,
                                             const std::string& value, std::uint32_t ttl_ms,
                                             std::uint64_t most) = 0;
    // The value under `key`, unless it expired (read-your-writes sessions).
    virtual Async<std::optional<std::string>> expiring(const std::string& key) = 0;
};

// The store the configuration names. Throws std::runtime_error when it cannot be opened.
std::unique_ptr<Store> open_store(const config::TaskStore& config,
                                  boost::asio::any_io_executor executor);

// An embedded SQLite store at `path` (":memory:" for a private one).
std::unique_ptr<Store> open_sqlite(const std::string& path);

// A Redis store (task_store.url, password, tls_ca_file, command_timeout_ms); keys start with
// `miroir:`. Connects lazily, and again after a failure.
std::unique_ptr<Store> open_redis(const config::TaskStore& config,
                                  boost::asio::any_io_executor executor);

}  // namespace miroir::tasks
