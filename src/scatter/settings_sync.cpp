// Two-phase settings: verify and commit after the nodes' tasks, the drift checker, repairs
// with backoff, frozen writes, the settings-version headers and read floor.
#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <xxhash.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/settings_state.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/settings_sync.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::scatter {

using namespace miroir::fleet;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using Clock = std::chrono::steady_clock;

// The persisted state of an index's settings.
struct State {
    std::uint64_t version = 0;
    std::string hash;                            // of the committed settings
    json settings;                               // the committed settings, as the nodes show them
    std::map<std::string, std::uint64_t> nodes;  // node id → version verified on it
    bool frozen = false;
    // the text this state was read from (not stored): what its save expects to replace
    std::optional<std::string> read;

    static State parse(const std::string& text) {
        State s;
        const auto j = json::parse(text, nullptr, false);
        if (!j.is_object()) return s;
        s.version = j.value("version", std::uint64_t{0});
        s.hash = j.value("hash", std::string());
        s.settings = j.value("settings", json());
        s.frozen = j.value("frozen", false);
        const auto nodes = j.value("nodes", json::object());
        for (const auto& [id, v] : nodes.items()) {
            if (v.is_number_unsigned()) s.nodes[id] = v.get<std::uint64_t>();
        }
        return s;
    }
    std::string dump() const {
        json j;
        j["version"] = version;
        j["hash"] = hash;
        j["settings"] = settings;
        j["nodes"] = json::object();
        for (const auto& [id, v] : nodes) j["nodes"][id] = v;
        j["frozen"] = frozen;
        return j.dump();
    }
};

// Repairs in progress: per index and node, how many were sent and when the next may go.
struct Backoff {
    std::uint32_t attempts = 0;
    Clock::time_point next{};
};
std::mutex backoff_mutex;
std::map<std::pair<std::string, std::string>, Backoff> backoffs;

// A hash of settings that does not depend on the order of object keys.
std::string settings_hash(const json& settings) {
    const auto canonical = nlohmann::json(settings).dump();  // unordered: keys sorted
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(XXH64(canonical.data(), canonical.size(), 0)));
    return hex;
}

void publish(Context& ctx, const std::string& uid, const State& state) {
    SettingsView view;
    view.version = state.version;
    view.frozen = state.frozen;
    const auto fleet = ctx.fleet();
    for (std::size_t i = 0; i < fleet->size(); ++i) {
        const auto it = state.nodes.find(fleet->node_id(i));
        view.node_versions.push_back(it == state.nodes.end() ? 0 : it->second);
    }
    ctx.settings.set(uid, std::move(view));
    ctx.metrics.settings_state(uid, state.version, state.frozen);
}

asio::awaitable<State> load(Context& ctx, const std::string& uid) {
    const auto text = co_await ctx.store.settings_state(uid);
    auto state = text ? State::parse(*text) : State{};
    state.read = text;
    co_return state;
}

// Stores `state` unless another pod (or another check of this one) stored a state since it was
// read; false then, storing nothing.
asio::awaitable<bool> save(Context& ctx, const std::string& uid, const State& state) {
    const bool saved = co_await ctx.store.put_settings_state(uid, state.read, state.dump());
    if (saved) publish(ctx, uid, state);
    co_return saved;
}

// Every node slot's settings of `uid` (of `fleet`): null where the node did not answer 200
// or is removed.
asio::awaitable<std::vector<json>> read_back(Context& ctx, const Fleet& fleet,
                                             const std::string& uid) {
    std::vector<asio::awaitable<upstream::UpstreamResult>> reads;
    for (auto slot : fleet.members()) {
        reads.push_back(
            ctx.nodes[slot]->send(node_request(Method::get, index_path(uid) + "/settings"),
                                  std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms)));
    }
    std::vector<json> out(fleet.size());
    auto results = co_await upstream::gather(std::move(reads));
    for (std::size_t k = 0; k < results.size(); ++k) {
        const auto& result = results[k];
        auto& answer = out[fleet.members()[k]];
        if (result && result->status == 200) {
            auto body = json::parse(result->body, nullptr, false);
            if (body.is_object()) answer = std::move(body);
        } else if (result && result->status == 404) {
            answer = json::object();  // the node lacks the index: it differs
        }
    }
    co_return out;
}

// Whether a settings change to `uid` is still running somewhere (any Miroir).
asio::awaitable<bool> change_in_flight(Context& ctx, const std::string& uid) {
    tasks::TaskFilter filter;
    filter.index_uids = {uid};
    filter.statuses = {"enqueued", "processing"};
    filter.types = {"settingsUpdate", "indexCreation"};
    const auto page = co_await ctx.store.list(filter, std::nullopt, 1, false);
    co_return page.total > 0;
}

asio::awaitable<void> pause(std::chrono::milliseconds ms) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(ms);
    co_await timer.async_wait(asio::use_awaitable);
}

// The next state of `state` after `task` changed the settings: what the nodes that applied it
// agree on (their settings `answers`, hashed in `hashes`) as the next version; false when no
// node answered.
bool commit(State& state, const Fleet& fleet, const tasks::Task& task,
            const std::vector<json>& answers, const std::vector<std::string>& hashes) {
    // the candidates: the nodes whose task succeeded, else every node that answered
    std::vector<std::size_t> voters;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        if (hashes[i].empty()) continue;
        const auto& id = fleet.node_id(i);
        const bool applied = std::any_of(
            task.node_tasks.begin(), task.node_tasks.end(),
            [&id](const tasks::NodeTask& n) { return n.node == id && n.status == "succeeded"; });
        if (applied) voters.push_back(i);
    }
    if (voters.empty() && state.version == 0) {
        for (std::size_t i = 0; i < answers.size(); ++i) {
            if (!hashes[i].empty()) voters.push_back(i);
        }
    }
    std::string target = state.hash;
    std::size_t best = 0;
    for (auto i : voters) {
        const auto n =
            static_cast<std::size_t>(std::count(hashes.begin(), hashes.end(), hashes[i]));
        if (n > best) {
            best = n;
            target = hashes[i];
        }
    }
    if (target.empty()) return false;  // no node answered: the drift checker comes back to it
    if (target != state.hash) {
        for (std::size_t i = 0; i < answers.size(); ++i) {
            if (hashes[i] == target) state.settings = answers[i];
        }
        state.hash = target;
        ++state.version;
    }
    for (std::size_t i = 0; i < answers.size(); ++i) {
        if (hashes[i] == target) state.nodes[fleet.node_id(i)] = state.version;
    }
    return true;
}

// Commits what the nodes that applied a change agree on as the next version. Two pods may
// verify changes of one index at once: a commit is stored only over the state it was computed
// from, else computed again from the newer one.
asio::awaitable<void> verify(Context& ctx, const tasks::Task& task) {
    const auto& uid = task.index_uid;
    const auto fleet = ctx.fleet();
    bool stored = false;
    for (int attempt = 0; attempt < 20 && !stored; ++attempt) {
        if (attempt > 0) co_await pause(std::chrono::milliseconds(10 * attempt));
        // the nodes are read after the state: a commit stored since makes this one try again
        auto state = co_await load(ctx, uid);
        const auto answers = co_await read_back(ctx, *fleet, uid);
        std::vector<std::string> hashes;
        for (const auto& a : answers)
            hashes.push_back(a.is_object() && !a.empty() ? settings_hash(a) : "");
        const auto before = state.version;
        if (!commit(state, *fleet, task, answers, hashes)) {
            stored = true;  // no node answered: nothing to commit
            break;
        }
        stored = co_await save(ctx, uid, state);
        if (!stored) continue;
        for (std::size_t i = 0; i < answers.size(); ++i) ctx.metrics.settings_checked();
        if (state.version != before) {
            log::info("settings committed",
                      {{"index", uid}, {"version", static_cast<std::int64_t>(state.version)}});
        }
    }
    if (!stored) {
        log::error("settings not committed: the stored state kept changing",
                   {{"index", uid}, {"task", static_cast<std::int64_t>(task.uid)}});
    }
    ctx.settings.set_pending(uid, false);
}

// One pass of the drift checker over one index: nodes that hold the committed settings are
// verified at its version, the others repaired (with backoff); a reachable node still
// diverging after the configured attempts freezes writes.
asio::awaitable<void> check_index(Context& ctx, const std::string& uid) {
    // a change in flight is verified when its task finishes; the state is read after that
    // check, so that it holds any change already verified
    if (co_await change_in_flight(ctx, uid)) co_return;
    auto state = co_await load(ctx, uid);
    if (state.version == 0) co_return;
    publish(ctx, uid, state);
    const auto fleet = ctx.fleet();
    const auto answers = co_await read_back(ctx, *fleet, uid);
    // a change began meanwhile: this pass would compare against settings being replaced
    if (co_await change_in_flight(ctx, uid)) co_return;
    const auto& cfg = ctx.config.settings;
    bool all_match = true, changed = false, freeze = false;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        if (answers[i].is_null()) {
            all_match = false;  // unreachable: nothing to compare, nothing to repair
            continue;
        }
        ctx.metrics.settings_checked();
        const auto& id = fleet->node_id(i);
        const std::pair<std::string, std::string> key{uid, id};
        if (!answers[i].empty() && settings_hash(answers[i]) == state.hash) {
            if (state.nodes[id] != state.version) {
                state.nodes[id] = state.version;
                changed = true;
            }
            std::lock_guard lock(backoff_mutex);
            backoffs.erase(key);
            continue;
        }
        all_match = false;
        ctx.metrics.settings_mismatch(uid, id);
        if (state.nodes[id] != 0) {
            state.nodes[id] = 0;  // its settings are no committed version
            changed = true;
        }
        {
            std::lock_guard lock(backoff_mutex);
            auto& b = backoffs[key];
            // past the attempts, writes freeze; repairs go on, at most 64 backoffs apart
            if (b.attempts >= cfg.repair_attempts) freeze = true;
            if (Clock::now() < b.next) continue;
            ++b.attempts;
            b.next = Clock::now() + std::chrono::milliseconds(cfg.repair_backoff_ms) *
                                        (1u << std::min<std::uint32_t>(b.attempts - 1, 6));
        }
        ctx.metrics.settings_repair(uid, id);
        log::warn(
            "settings differ on a node: sending the committed settings again",
            {{"index", uid}, {"node", id}, {"version", static_cast<std::int64_t>(state.version)}});
        auto repair =
            node_request(Method::patch, index_path(uid) + "/settings", state.settings.dump());
        co_await ctx.nodes[i]->send(
            std::move(repair), std::chrono::milliseconds(ctx.config.upstream.write_timeout_ms));
    }
    const bool freezes = freeze && !state.frozen, thaws = all_match && state.frozen;
    if (freezes || thaws) {
        state.frozen = freezes;
        changed = true;
    }
    if (!changed) co_return;
    // a state stored meanwhile (a change committed, another pod's pass) wins over this pass
    const bool saved = co_await save(ctx, uid, state);
    if (saved && freezes) {
        log::error("writes frozen: a node's settings cannot be repaired", {{"index", uid}});
    }
    if (saved && thaws) {
        log::info("writes unfrozen: every node holds the committed settings", {{"index", uid}});
    }
}

}  // namespace

asio::awaitable<void> settings_task_finished(Context& ctx, const tasks::Task& task) {
    if (task.index_uid.empty()) co_return;
    if (task.type == "indexDeletion" && task.status == "succeeded") {
        co_await ctx.store.erase_settings_state(task.index_uid);
        ctx.settings.erase(task.index_uid);
        co_return;
    }
    if (task.type != "settingsUpdate" && task.type != "indexCreation") co_return;
    try {
        co_await verify(ctx, task);
    } catch (const std::exception& e) {
        ctx.settings.set_pending(task.index_uid, false);
        log::error("settings verification failed",
                   {{"index", task.index_uid}, {"error", e.what()}});
    }
}

void settings_proposed(Context& ctx, const std::string& uid) {
    ctx.settings.set_pending(uid, true);
}

void check_writable(const Context& ctx, const std::string& uid) {
    const auto view = ctx.settings.get(uid);
    if (view && view->frozen) {
        throw http::ApiError(503, "miroir_settings_frozen", http::ErrorType::system,
                             "Writes to index `" + uid +
                                 "` are frozen: a node's settings differ from the committed "
                                 "settings and could not be repaired. See "
                                 "miroir_settings_frozen and the logs.");
    }
}

void add_settings_headers(const Context& ctx, const std::string& uid, http::Response& response) {
    const auto view = ctx.settings.get(uid);
    if (!view) return;
    if (view->version > 0) {
        response.headers.set("X-Miroir-Settings-Version", std::to_string(view->version));
    }
    if (!view->consistent()) response.headers.set("X-Miroir-Settings-Inconsistent", "true");
}

std::vector<std::size_t> below_settings_floor(const Context& ctx, const std::string& uid,
                                              const http::Request& request) {
    const auto header = request.headers.get("X-Miroir-Min-Settings-Version");
    if (!header) return request.read_avoid;
    std::uint64_t floor = 0;
    const auto* end = header->data() + header->size();
    const auto [ptr, ec] = std::from_chars(header->data(), end, floor);
    if (ec != std::errc() || ptr != end) {
        throw http::ApiError(400, "miroir_invalid_settings_version",
                             http::ErrorType::invalid_request,
                             "`X-Miroir-Min-Settings-Version` must be a settings version (a "
                             "non-negative integer), found `" +
                                 std::string(*header) + "`.");
    }
    const auto view = ctx.settings.get(uid);
    const std::uint64_t committed = view ? view->version : 0;
    if (floor > committed) {
        throw http::ApiError(503, "miroir_settings_version_stale", http::ErrorType::system,
                             "Index `" + uid + "` has settings version " +
                                 std::to_string(committed) + ", below the requested " +
                                 std::to_string(floor) + ".");
    }
    std::vector<std::size_t> below = request.read_avoid;
    for (std::size_t i = 0; view && i < view->node_versions.size(); ++i) {
        if (view->node_versions[i] < floor) below.push_back(i);
    }
    return below;
}

asio::awaitable<void> check_settings(Context& ctx, bool first) {
    for (const auto& [uid, text] : co_await ctx.store.settings_states()) {
        if (first) {
            publish(ctx, uid, State::parse(text));  // what was committed before
        } else {
            co_await check_index(ctx, uid);
        }
    }
}

}  // namespace miroir::scatter
