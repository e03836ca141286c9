// The embedded task store: one SQLite file in WAL mode. Tasks are rows with the columns GET
// /tasks filters on, and the whole record as JSON; task uids come from a counter row, so a
// deleted task's uid is never given again.
#include <mutex>
#include <sqlite3.h>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/util/time.hpp>

#include "record.hpp"

namespace miroir::tasks {

namespace {

using json = nlohmann::json;

// A prepared statement, finalized on scope exit; binds are 1-based as in SQLite.
class Statement {
  public:
    Statement(sqlite3* db, const std::string& sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
            throw std::runtime_error(std::string("task store: ") + sqlite3_errmsg(db));
        }
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    Statement& bind(int i, const std::string& v) {
        sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Statement& bind_null(int i) {
        sqlite3_bind_null(stmt_, i);
        return *this;
    }
    // Steps once: true when a row is available.
    bool step() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw std::runtime_error(std::string("task store: ") + sqlite3_errmsg(db_));
    }
    std::int64_t int_at(int col) const { return sqlite3_column_int64(stmt_, col); }
    bool null_at(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    std::string text_at(int col) const {
        const auto* p = sqlite3_column_text(stmt_, col);
        return p ? std::string(reinterpret_cast<const char*>(p),
                               static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
                 : std::string();
    }

  private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

// A WHERE clause under construction with its parameters.
struct Where {
    std::string sql;
    std::vector<json> params;  // integers or strings

    void add(const std::string& clause) { sql += (sql.empty() ? " WHERE " : " AND ") + clause; }
    template <typename T>
    void in(const std::string& column, const std::vector<T>& values) {
        if (values.empty()) return;
        std::string list;
        for (const auto& v : values) {
            list += list.empty() ? "?" : ",?";
            params.push_back(v);
        }
        add(column + " IN (" + list + ")");
    }
    // The column equals one of the patterns, or starts with one ending with `*`.
    void patterns(const std::string& column, const std::vector<std::string>& patterns) {
        std::string any;
        for (const auto& p : patterns) {
            if (!any.empty()) any += " OR ";
            if (p.ends_with('*')) {
                const auto prefix = p.substr(0, p.size() - 1);
                any += "substr(" + column + ", 1, " + std::to_string(prefix.size()) + ") = ?";
                params.push_back(prefix);
            } else {
                any += column + " = ?";
                params.push_back(p);
            }
        }
        add(any.empty() ? "0" : "(" + any + ")");
    }
    void bound(const std::string& column, const char* op, const std::optional<std::int64_t>& v) {
        if (!v) return;
        add(column + " != 0 AND " + column + " " + op + " ?");
        params.push_back(*v);
    }
    void bind(Statement& s) const {
        int i = 1;
        for (const auto& p : params) {
            if (p.is_string()) {
                s.bind(i++, p.get<std::string>());
            } else {
                s.bind(i++, p.get<std::int64_t>());
            }
        }
    }
};

Where where_of(const TaskFilter& f) {
    Where w;
    std::vector<std::int64_t> uids(f.uids.begin(), f.uids.end());
    std::vector<std::int64_t> canceled(f.canceled_by.begin(), f.canceled_by.end());
    w.in("uid", uids);
    w.in("status", f.statuses);
    w.in("type", f.types);
    w.in("index_uid", f.index_uids);
    if (f.index_patterns) w.patterns("index_uid", *f.index_patterns);
    w.in("canceled_by", canceled);
    w.bound("enqueued_at", "<", f.before_enqueued_at);
    w.bound("enqueued_at", ">", f.after_enqueued_at);
    if (f.started) w.add("started_at > 0");
    w.bound("started_at", "<", f.before_started_at);
    w.bound("started_at", ">", f.after_started_at);
    w.bound("finished_at", "<", f.before_finished_at);
    w.bound("finished_at", ">", f.after_finished_at);
    return w;
}

class SqliteStore final : public Store {
  public:
    explicit SqliteStore(const std::string& path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
            const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            throw std::runtime_error("cannot open the task store `" + path + "`: " + why);
        }
        sqlite3_busy_timeout(db_, 5000);
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA synchronous=NORMAL");
        exec("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
        exec("INSERT OR IGNORE INTO counters VALUES ('task_uid', 0)");
        exec(
            "CREATE TABLE IF NOT EXISTS tasks (uid INTEGER PRIMARY KEY, index_uid TEXT, "
            "type TEXT, status TEXT, canceled_by INTEGER, enqueued_at INTEGER, "
            "started_at INTEGER, finished_at INTEGER, record TEXT NOT NULL)");
        exec("CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks(status)");
        exec(
            "CREATE TABLE IF NOT EXISTS indexes (uid TEXT PRIMARY KEY, primary_key TEXT, "
            "shards INTEGER NOT NULL)");
        exec("CREATE TABLE IF NOT EXISTS settings (uid TEXT PRIMARY KEY, state TEXT NOT NULL)");
        exec(
            "CREATE TABLE IF NOT EXISTS topology (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "version INTEGER NOT NULL, state TEXT NOT NULL)");
        exec(
            "CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "
            "expires_at INTEGER NOT NULL)");
        exec(
            "CREATE TABLE IF NOT EXISTS records (tbl TEXT NOT NULL, key TEXT NOT NULL, "
            "value TEXT NOT NULL, PRIMARY KEY (tbl, key))");
        exec(
            "CREATE TABLE IF NOT EXISTS expiring (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
            "expires_at INTEGER NOT NULL)");
        exec("CREATE INDEX IF NOT EXISTS expiring_by_time ON expiring (expires_at)");
    }
    ~SqliteStore() override { sqlite3_close(db_); }

    Async<std::uint64_t> create(Task& task) override {
        std::lock_guard lock(mutex_);
        exec("BEGIN IMMEDIATE");
        try {
            {
                Statement next(db_,
                               "UPDATE counters SET value = value + 1 WHERE name = 'task_uid' "
                               "RETURNING value - 1");
                if (!next.step()) throw std::runtime_error("task store: no task counter");
                task.uid = static_cast<std::uint64_t>(next.int_at(0));
                next.step();  // runs the statement to its end before the commit
            }
            write(task);
            exec("COMMIT");
        } catch (...) {
            exec("ROLLBACK");
            throw;
        }
        co_return task.uid;
    }

    Async<std::optional<Task>> get(std::uint64_t uid) override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "SELECT record FROM tasks WHERE uid = ?");
        s.bind(1, static_cast<std::int64_t>(uid));
        if (!s.step()) co_return std::nullopt;
        co_return from_json(json::parse(s.text_at(0)));
    }

    Async<void> update(const Task& task) override {
        std::lock_guard lock(mutex_);
        // a task deleted meanwhile (a task deletion) is not brought back
        Statement exists(db_, "SELECT 1 FROM tasks WHERE uid = ?");
        exists.bind(1, static_cast<std::int64_t>(task.uid));
        if (!exists.step()) co_return;
        write(task);
    }

    Async<TaskPage> list(const TaskFilter& filter, std::optional<std::uint64_t> from,
                         std::uint32_t limit, bool reverse) override {
        std::lock_guard lock(mutex_);
        TaskPage page;
        auto where = where_of(filter);
        {
            Statement count(db_, "SELECT COUNT(*) FROM tasks" + where.sql);
            where.bind(count);
            count.step();
            page.total = static_cast<std::uint64_t>(count.int_at(0));
        }
        if (from) {
            where.add(reverse ? "uid >= ?" : "uid <= ?");
            where.params.push_back(static_cast<std::int64_t>(*from));
        }
        Statement s(db_, "SELECT record FROM tasks" + where.sql + " ORDER BY uid " +
                             (reverse ? "ASC" : "DESC") + " LIMIT ?");
        where.bind(s);
        s.bind(static_cast<int>(where.params.size()) + 1, static_cast<std::int64_t>(limit) + 1);
        while (s.step()) {
            auto task = from_json(json::parse(s.text_at(0)));
            if (page.tasks.size() == limit) {
                page.next = task.uid;
                break;
            }
            page.tasks.push_back(std::move(task));
        }
        co_return page;
    }

    Async<std::vector<Task>> unfinished(std::uint32_t limit) override {
        std::lock_guard lock(mutex_);
        Statement s(db_,
                    "SELECT record FROM tasks WHERE status IN ('enqueued', 'processing') "
                    "ORDER BY uid LIMIT ?");
        s.bind(1, static_cast<std::int64_t>(limit));
        std::vector<Task> out;
        while (s.step()) out.push_back(from_json(json::parse(s.text_at(0))));
        co_return out;
    }

    Async<std::uint64_t> prune(std::int64_t before) override {
        std::lock_guard lock(mutex_);
        Statement s(db_,
                    "DELETE FROM tasks WHERE status IN ('succeeded', 'failed', 'canceled') "
                    "AND finished_at < ?");
        s.bind(1, before);
        s.step();
        co_return static_cast<std::uint64_t>(sqlite3_changes(db_));
    }

    Async<std::uint64_t> erase(const std::vector<std::uint64_t>& uids) override {
        std::lock_guard lock(mutex_);
        std::uint64_t erased = 0;
        for (auto uid : uids) {
            Statement s(db_, "DELETE FROM tasks WHERE uid = ?");
            s.bind(1, static_cast<std::int64_t>(uid));
            s.step();
            erased += static_cast<std::uint64_t>(sqlite3_changes(db_));
        }
        co_return erased;
    }

    Async<std::optional<IndexRecord>> index(const std::string& uid) override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "SELECT uid, primary_key, shards FROM indexes WHERE uid = ?");
        s.bind(1, uid);
        if (!s.step()) co_return std::nullopt;
        IndexRecord r{s.text_at(0), std::nullopt, static_cast<std::uint32_t>(s.int_at(2))};
        if (!s.null_at(1)) r.primary_key = s.text_at(1);
        co_return r;
    }

    Async<void> put_index(const IndexRecord& index) override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "INSERT OR REPLACE INTO indexes VALUES (?, ?, ?)");
        s.bind(1, index.uid);
        if (index.primary_key) {
            s.bind(2, *index.primary_key);
        } else {
            s.bind_null(2);
        }
        s.bind(3, static_cast<std::int64_t>(index.shards));
        s.step();
        co_return;
    }

    Async<std::optional<std::string>> settings_state(const std::string& uid) override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "SELECT state FROM settings WHERE uid = ?");
        s.bind(1, uid);
        if (!s.step()) co_return std::nullopt;
        co_return s.text_at(0);
    }

    Async<std::vector<std::pair<std::string, std::string>>> settings_states() override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "SELECT uid, state FROM settings ORDER BY uid");
        std::vector<std::pair<std::string, std::string>> out;
        while (s.step()) out.emplace_back(s.text_at(0), s.text_at(1));
        co_return out;
    }

    Async<bool> put_settings_state(const std::string& uid,
                                   const std::optional<std::string>& expected,
                                   const std::string& state) override {
        std::lock_guard lock(mutex_);  // one process: the read and the write are one step
        Statement read(db_, "SELECT state FROM settings WHERE uid = ?");
        read.bind(1, uid);
        const auto stored =
            read.step() ? std::optional<std::string>(read.text_at(0)) : std::nullopt;
        if (stored != expected) co_return false;
        Statement s(db_, "INSERT OR REPLACE INTO settings VALUES (?, ?)");
        s.bind(1, uid);
        s.bind(2, state);
        s.step();
        co_return true;
    }

    Async<void> erase_settings_state(const std::string& uid) override {
        delete_uid("DELETE FROM settings WHERE uid = ?", uid);
        co_return;
    }

    Async<std::optional<std::string>> topology() override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "SELECT state FROM topology WHERE id = 1");
        if (!s.step()) co_return std::nullopt;
        co_return s.text_at(0);
    }

    Async<bool> put_topology(const std::string& text, std::uint64_t version,
                             std::uint64_t expected) override {
        std::lock_guard lock(mutex_);
        std::uint64_t stored = 0;
        {
            Statement s(db_, "SELECT version FROM topology WHERE id = 1");
            if (s.step()) stored = static_cast<std::uint64_t>(s.int_at(0));
        }
        if (stored != expected) co_return false;
        Statement s(db_, "INSERT OR REPLACE INTO topology VALUES (1, ?, ?)");
        s.bind(1, static_cast<std::int64_t>(version));
        s.bind(2, text);
        s.step();
        co_return true;
    }

    Async<bool> lease(const std::string& name, const std::string& holder,
                      std::uint32_t ttl_ms) override {
        std::lock_guard lock(mutex_);
        const auto now = util::unix_ms();
        {
            Statement s(db_, "SELECT holder, expires_at FROM leases WHERE name = ?");
            s.bind(1, name);
            if (s.step() && s.text_at(0) != holder && s.int_at(1) > now) co_return false;
        }
        Statement s(db_, "INSERT OR REPLACE INTO leases VALUES (?, ?, ?)");
        s.bind(1, name);
        s.bind(2, holder);
        s.bind(3, static_cast<std::int64_t>(now + ttl_ms));
        s.step();
        co_return true;
    }

    Async<void> erase_index(const std::string& uid) override {
        delete_uid("DELETE FROM indexes WHERE uid = ?", uid);
        co_return;
    }

    Async<void> put_record(const std::string& table, const std::string& key,
                           const std::string& value) override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "INSERT OR REPLACE INTO records VALUES (?, ?, ?)");
        s.bind(1, table);
        s.bind(2, key);
        s.bind(3, value);
        s.step();
        co_return;
    }

    Async<std::vector<std::pair<std::string, std::string>>> records(
        const std::string& table) override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "SELECT key, value FROM records WHERE tbl = ? ORDER BY key");
        s.bind(1, table);
        std::vector<std::pair<std::string, std::string>> out;
        while (s.step()) out.emplace_back(s.text_at(0), s.text_at(1));
        co_return out;
    }

    Async<bool> put_record_if(const std::string& table, const std::string& key,
                              const std::optional<std::string>& expected,
                              const std::string& value) override {
        std::lock_guard lock(mutex_);  // one process: the read and the write are one step
        Statement read(db_, "SELECT value FROM records WHERE tbl = ? AND key = ?");
        read.bind(1, table);
        read.bind(2, key);
        const auto stored =
            read.step() ? std::optional<std::string>(read.text_at(0)) : std::nullopt;
        if (stored != expected) co_return false;
        Statement s(db_, "INSERT OR REPLACE INTO records VALUES (?, ?, ?)");
        s.bind(1, table);
        s.bind(2, key);
        s.bind(3, value);
        s.step();
        co_return true;
    }

    Async<void> erase_record(const std::string& table, const std::string& key) override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "DELETE FROM records WHERE tbl = ? AND key = ?");
        s.bind(1, table);
        s.bind(2, key);
        s.step();
        co_return;
    }

    Async<std::optional<std::string>> claim(const std::string& key, const std::string& value,
                                            std::uint32_t ttl_ms) override {
        std::lock_guard lock(mutex_);
        const auto now = util::unix_ms();
        {
            Statement s(db_, "DELETE FROM expiring WHERE expires_at <= ?");
            s.bind(1, static_cast<std::int64_t>(now));
            s.step();
        }
        {
            Statement s(db_, "SELECT value FROM expiring WHERE key = ?");
            s.bind(1, key);
            if (s.step()) co_return s.text_at(0);
        }
        write_expiring(key, value, now + ttl_ms);
        co_return std::nullopt;
    }

    Async<void> put_expiring(const std::string& key, const std::string& value,
                             std::uint32_t ttl_ms) override {
        std::lock_guard lock(mutex_);
        write_expiring(key, value, util::unix_ms() + ttl_ms);
        co_return;
    }

    Async<std::uint64_t> put_bounded(const std::string& family, const std::string& key,
                                     const std::string& value, std::uint32_t ttl_ms,
                                     std::uint64_t most) override {
        std::lock_guard lock(mutex_);
        const auto now = static_cast<std::int64_t>(util::unix_ms());
        exec("BEGIN IMMEDIATE");
        try {
            write_expiring(key, value, now + ttl_ms);
            {
                Statement s(db_, "DELETE FROM expiring WHERE expires_at <= ?");
                s.bind(1, now);
                s.step();
            }
            // the family's values expiring first, beyond `most`
            Statement s(db_,
                        "DELETE FROM expiring WHERE key IN (SELECT key FROM expiring WHERE "
                        "substr(key, 1, length(?1)) = ?1 ORDER BY expires_at DESC, key "
                        "LIMIT -1 OFFSET ?2)");
            s.bind(1, family);
            s.bind(2, static_cast<std::int64_t>(most));
            s.step();
            const auto dropped = static_cast<std::uint64_t>(sqlite3_changes(db_));
            exec("COMMIT");
            co_return dropped;
        } catch (...) {
            exec("ROLLBACK");
            throw;
        }
    }

    Async<void> forget(const std::string& key) override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "DELETE FROM expiring WHERE key = ?");
        s.bind(1, key);
        s.step();
        co_return;
    }

    Async<std::optional<std::string>> expiring(const std::string& key) override {
        std::lock_guard lock(mutex_);
        Statement s(db_, "SELECT value FROM expiring WHERE key = ? AND expires_at > ?");
        s.bind(1, key);
        s.bind(2, static_cast<std::int64_t>(util::unix_ms()));
        if (s.step()) co_return s.text_at(0);
        co_return std::nullopt;
    }

  private:
    void write_expiring(const std::string& key, const std::string& value, std::int64_t until) {
        Statement s(db_, "INSERT OR REPLACE INTO expiring VALUES (?, ?, ?)");
        s.bind(1, key);
        s.bind(2, value);
        s.bind(3, until);
        s.step();
    }

    // One `DELETE ... WHERE uid = ?`.
    void delete_uid(const char* sql, const std::string& uid) {
        std::lock_guard lock(mutex_);
        Statement s(db_, sql);
        s.bind(1, uid);
        s.step();
    }

    void exec(const char* sql) {
        char* message = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
            std::string why = message ? message : "unknown error";
            sqlite3_free(message);
            throw std::runtime_error("task store: " + why);
        }
    }

    void write(const Task& t) {
        Statement s(db_, "INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        s.bind(1, static_cast<std::int64_t>(t.uid))
            .bind(2, t.index_uid)
            .bind(3, t.type)
            .bind(4, t.status);
        if (t.canceled_by) {
            s.bind(5, static_cast<std::int64_t>(*t.canceled_by));
        } else {
            s.bind_null(5);
        }
        s.bind(6, t.enqueued_at).bind(7, t.started_at).bind(8, t.finished_at);
        s.bind(9, to_json(t).dump());
        s.step();
    }

    std::mutex mutex_;
    sqlite3* db_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> open_sqlite(const std::string& path) {
    return std::make_unique<SqliteStore>(path);
}

std::unique_ptr<Store> open_store(const config::TaskStore& config,
                                  boost::asio::any_io_executor executor) {
    if (config.backend == "redis") return open_redis(config, std::move(executor));
    return open_sqlite(config.path);
}

}  // namespace miroir::tasks
