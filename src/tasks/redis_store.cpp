// The shared task store, for several Miroir pods. Keys:
//   miroir:task_uid        INCR counter; a new task's uid is the incremented value minus one
//   miroir:task:<uid>      the task record (JSON)
//   miroir:tasks           sorted set of every task uid (score = uid)
//   miroir:tasks:open      sorted set of unfinished task uids
//   miroir:indexes         hash: index uid → index record (JSON)
//   miroir:settings        hash: index uid → settings state (JSON)
//   miroir:topology        hash: `version`, `state` (the topology's JSON)
//   miroir:lease:<name>    the holder of a lease, expiring with it
//   miroir:records:<table> hash: small records the pods coordinate through
// GET /tasks filters in Miroir over the records (newest first), so its cost grows with the
// number of retained tasks; task_store.retention_hours bounds it.
#include <miroir/tasks/store.hpp>
#include <miroir/util/time.hpp>

#include "record.hpp"
#include "redis_client.hpp"

namespace miroir::tasks {

namespace {

using json = nlohmann::json;
using Type = RedisReply::Type;

const std::string kCounter = "miroir:task_uid";
const std::string kAll = "miroir:tasks";
const std::string kOpen = "miroir:tasks:open";
const std::string kIndexes = "miroir:indexes";
const std::string kSettings = "miroir:settings";
const std::string kTopology = "miroir:topology";

// Compare-and-set of the topology: KEYS[1] the hash, ARGV expected version, new version, text.
const std::string kPutTopology = R"(
local stored = redis.call('HGET', KEYS[1], 'version') or '0'
if stored ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'state', ARGV[3])
return 1)";

// Sets a hash field when it holds what the caller read: KEYS[1] the hash, ARGV the field,
// whether it was there ('1' or '0'), its value then, the new value.
const std::string kPutIfSame = R"(
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  if stored ~= ARGV[3] then return 0 end
elseif stored then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return 1)";

// Takes or extends a lease: KEYS[1] the lease, ARGV holder, ttl in ms.
const std::string kLease = R"(
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1)";

// Stores a value unless one is there: KEYS[1], ARGV value, ttl in ms; the value found, or nil.
const std::string kClaim = R"(
local found = redis.call('GET', KEYS[1])
if found then return found end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false)";

// A value of a bounded family (KEYS[2]) stored, its expiry recorded in the family's sorted set
// (KEYS[1]); the expired forgotten, then the ones expiring first dropped beyond ARGV[4].
// ARGV: value, ttl in ms, now in ms, most.
const std::string kPutBounded = R"(
local ttl, now, most = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[1], now + ttl, KEYS[2])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local over = redis.call('ZCARD', KEYS[1]) - most
if over <= 0 then return 0 end
for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, over - 1)) do redis.call('DEL', key) end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
return over)";

std::string task_key(std::uint64_t uid) { return "miroir:task:" + std::to_string(uid); }

class RedisStore final : public Store {
  public:
    RedisStore(boost::asio::any_io_executor executor, RedisOptions options)
        : redis_(std::move(executor), std::move(options)) {}

    Async<std::uint64_t> create(Task& task) override {
        const auto next = co_await call("INCR", kCounter);
        task.uid = static_cast<std::uint64_t>(next.integer - 1);
        co_await put(task, false);
        co_return task.uid;
    }

    Async<std::optional<Task>> get(std::uint64_t uid) override {
        const auto r = co_await call("GET", task_key(uid));
        if (r.type != Type::string) co_return std::nullopt;
        co_return from_json(json::parse(r.text));
    }

    // a task deleted meanwhile (a task deletion) is not brought back
    Async<void> update(const Task& task) override { co_await put(task, true); }

    Async<void> put(const Task& task, bool existing) {
        const auto uid = std::to_string(task.uid);
        if (existing) {
            const auto set = co_await call("SET", task_key(task.uid), to_json(task).dump(), "XX");
            if (set.type != Type::status) co_return;  // nil: no such task any more
        } else {
            co_await call("SET", task_key(task.uid), to_json(task).dump());
        }
        co_await call("ZADD", kAll, uid, uid);
        if (task.finished()) {
            co_await call("ZREM", kOpen, uid);
        } else {
            co_await call("ZADD", kOpen, uid, uid);
        }
    }

    Async<TaskPage> list(const TaskFilter& filter, std::optional<std::uint64_t> from,
                         std::uint32_t limit, bool reverse) override {
        TaskPage page;
        constexpr long long kChunk = 500;
        for (long long start = 0;; start += kChunk) {
            const auto uids =
                co_await call(reverse ? "ZRANGE" : "ZREVRANGE", kAll, std::to_string(start),
                              std::to_string(start + kChunk - 1));
            if (uids.elements.empty()) break;
            auto loaded = co_await load(uids.elements);
            for (auto& task : loaded) {
                if (!matches(filter, task)) continue;
                ++page.total;
                if (from && (reverse ? task.uid < *from : task.uid > *from)) continue;
                if (page.tasks.size() < limit) {
                    page.tasks.push_back(std::move(task));
                } else if (!page.next) {
                    page.next = task.uid;
                }
            }
        }
        co_return page;
    }

    Async<std::vector<Task>> unfinished(std::uint32_t limit) override {
        const auto uids =
            co_await call("ZRANGE", kOpen, "0", std::to_string(static_cast<long long>(limit) - 1));
        co_return co_await load(uids.elements);
    }

    Async<std::uint64_t> prune(std::int64_t before) override {
        std::vector<std::uint64_t> old;
        const auto uids = co_await call("ZRANGE", kAll, "0", "-1");
        const auto loaded = co_await load(uids.elements);
        for (const auto& task : loaded) {
            if (task.finished() && task.finished_at < before) old.push_back(task.uid);
        }
        co_return co_await erase(old);
    }

    Async<std::uint64_t> erase(const std::vector<std::uint64_t>& uids) override {
        std::uint64_t erased = 0;
        for (auto uid : uids) {
            const auto r = co_await call("DEL", task_key(uid));
            co_await call("ZREM", kAll, std::to_string(uid));
            co_await call("ZREM", kOpen, std::to_string(uid));
            erased += static_cast<std::uint64_t>(r.integer);
        }
        co_return erased;
    }

    Async<std::optional<IndexRecord>> index(const std::string& uid) override {
        const auto r = co_await call("HGET", kIndexes, uid);
        if (r.type != Type::string) co_return std::nullopt;
        const auto j = json::parse(r.text);
        IndexRecord record{uid, std::nullopt, j.at("shards").get<std::uint32_t>()};
        if (j.at("primaryKey").is_string()) record.primary_key = j["primaryKey"];
        co_return record;
    }

    Async<void> put_index(const IndexRecord& index) override {
        json j;
        j["primaryKey"] = index.primary_key ? json(*index.primary_key) : json(nullptr);
        j["shards"] = index.shards;
        co_await call("HSET", kIndexes, index.uid, j.dump());
    }

    Async<void> erase_index(const std::string& uid) override {
        co_await call("HDEL", kIndexes, uid);
    }

    Async<std::optional<std::string>> settings_state(const std::string& uid) override {
        auto r = co_await call("HGET", kSettings, uid);
        if (r.type != Type::string) co_return std::nullopt;
        co_return std::move(r.text);
    }

    Async<std::vector<std::pair<std::string, std::string>>> settings_states() override {
        const auto r = co_await call("HGETALL", kSettings);
        std::vector<std::pair<std::string, std::string>> out;
        for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
            out.emplace_back(r.elements[i].text, r.elements[i + 1].text);
        }
        co_return out;
    }

    Async<bool> put_settings_state(const std::string& uid,
                                   const std::optional<std::string>& expected,
                                   const std::string& state) override {
        return put_if_same(kSettings, uid, expected, state);
    }

    Async<void> erase_settings_state(const std::string& uid) override {
        co_await call("HDEL", kSettings, uid);
    }

    Async<bool> put_record_if(const std::string& table, const std::string& key,
                              const std::optional<std::string>& expected,
                              const std::string& value) override {
        return put_if_same("miroir:records:" + table, key, expected, value);
    }

    Async<std::optional<std::string>> topology() override {
        auto r = co_await call("HGET", kTopology, "state");
        if (r.type != Type::string) co_return std::nullopt;
        co_return std::move(r.text);
    }

    Async<bool> put_topology(const std::string& text, std::uint64_t version,
                             std::uint64_t expected) override {
        const auto r = co_await call("EVAL", kPutTopology, "1", kTopology, std::to_string(expected),
                                     std::to_string(version), text);
        co_return r.type == Type::integer&& r.integer == 1;
    }

    Async<bool> lease(const std::string& name, const std::string& holder,
                      std::uint32_t ttl_ms) override {
        const auto key = "miroir:lease:" + name, ttl = std::to_string(ttl_ms);
        const auto r = co_await call("EVAL", kLease, "1", key, holder, ttl);
        co_return r.type == Type::integer&& r.integer == 1;
    }

    Async<void> put_record(const std::string& table, const std::string& key,
                           const std::string& value) override {
        const auto hash = "miroir:records:" + table;
        co_await call("HSET", hash, key, value);
    }

    Async<std::vector<std::pair<std::string, std::string>>> records(
        const std::string& table) override {
        const auto hash = "miroir:records:" + table;
        const auto r = co_await call("HGETALL", hash);
        std::vector<std::pair<std::string, std::string>> out;
        for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
            out.emplace_back(r.elements[i].text, r.elements[i + 1].text);
        }
        co_return out;
    }

    Async<void> erase_record(const std::string& table, const std::string& key) override {
        const auto hash = "miroir:records:" + table;
        co_await call("HDEL", hash, key);
    }

    Async<std::optional<std::string>> claim(const std::string& key, const std::string& value,
                                            std::uint32_t ttl_ms) override {
        const auto r =
            co_await call("EVAL", kClaim, "1", expiring_key(key), value, std::to_string(ttl_ms));
        if (r.type != Type::string) co_return std::nullopt;
        co_return r.text;
    }

    Async<void> put_expiring(const std::string& key, const std::string& value,
                             std::uint32_t ttl_ms) override {
        co_await call("SET", expiring_key(key), value, "PX", std::to_string(ttl_ms));
    }

    Async<void> forget(const std::string& key) override { co_await call("DEL", expiring_key(key)); }

    Async<std::uint64_t> put_bounded(const std::string& family, const std::string& key,
                                     const std::string& value, std::uint32_t ttl_ms,
                                     std::uint64_t most) override {
        const auto r = co_await call("EVAL", kPutBounded, "2", "miroir:bounded:" + family,
                                     expiring_key(key), value, std::to_string(ttl_ms),
                                     std::to_string(util::unix_ms()), std::to_string(most));
        co_return r.type == Type::integer ? static_cast<std::uint64_t>(r.integer) : 0;
    }

    Async<std::optional<std::string>> expiring(const std::string& key) override {
        auto r = co_await call("GET", expiring_key(key));
        if (r.type != Type::string) co_return std::nullopt;
        co_return std::move(r.text);
    }

  private:
    static std::string expiring_key(const std::string& key) { return "miroir:expiring:" + key; }

    // One command; a plain function, so that no braced list appears inside a co_await
    // expression (GCC 12 miscompiles those).
    template <typename... Args>
    Async<RedisReply> call(const Args&... args) {
        return command(std::vector<std::string>{std::string(args)...});
    }

    // Sets `field` of `hash` to `value` when it still holds `expected` (nullopt: absent).
    Async<bool> put_if_same(std::string hash, std::string field,
                            std::optional<std::string> expected, std::string value) {
        const auto r =
            co_await call("EVAL", kPutIfSame, "1", hash, field, std::string(expected ? "1" : "0"),
                          expected.value_or(""), value);
        co_return r.type == Type::integer&& r.integer == 1;
    }

    // A command whose failure is the client's 503: Redis is out of reach.
    Async<RedisReply> command(std::vector<std::string> args) {
        try {
            co_return co_await redis_.command(std::move(args));
        } catch (const std::runtime_error& e) {
            throw Unavailable(std::string("The task store cannot be reached: ") + e.what() + ".");
        }
    }

    // The records of some uids (MGET), skipping any deleted meanwhile.
    Async<std::vector<Task>> load(const std::vector<RedisReply>& uids) {
        std::vector<Task> out;
        if (uids.empty()) co_return out;
        std::vector<std::string> args{"MGET"};
        for (const auto& u : uids) args.push_back(task_key(std::stoull(u.text)));
        const auto records = co_await command(std::move(args));
        for (const auto& r : records.elements) {
            if (r.type == Type::string) out.push_back(from_json(json::parse(r.text)));
        }
        co_return out;
    }

    RedisClient redis_;
};

}  // namespace

std::unique_ptr<Store> open_redis(const config::TaskStore& config,
                                  boost::asio::any_io_executor executor) {
    RedisOptions options;
    try {
        options.target = config::parse_redis_url(config.url);
    } catch (const config::ConfigError& e) {
        throw std::runtime_error(e.what());
    }
    if (!config.password.empty()) options.target.password = config.password;
    options.tls_ca_file = config.tls_ca_file;
    options.timeout = std::chrono::milliseconds(config.command_timeout_ms);
    return std::make_unique<RedisStore>(std::move(executor), std::move(options));
}

}  // namespace miroir::tasks
