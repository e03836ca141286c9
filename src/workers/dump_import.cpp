// Dump import (docs/operations.md, "Importing a dump"). An upload's import, step by step, each
// through the public API served in process (Context::loopback), so that it is routed, checked
// and recorded as a client's request would be:
//
//   read the archive once (everything but the documents) ──► check what exists
//     ──► per index: (deleted first with `replace`) created with its primary key, settings
//         applied (two-phase) ──► keys ──► documents, a piece of whole lines at a time, each
//         POSTed as NDJSON (split by document id to the owners only), `tasks_in_flight` ahead
//
// The status record (task store table `dump-imports`) holds the phase, what was created, and
// per index how many lines are known written; a restart goes on from there (a re-sent line
// replaces the same document).
#include <deque>
#include <filesystem>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/dump/archive.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/util/time.hpp>
#include <miroir/util/uuid.hpp>
#include <miroir/workers/dump_import.hpp>

#include "dump_import_state.hpp"
#include "rebalance.hpp"
#include "self_call.hpp"

namespace miroir::workers {

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using http::Method;
using namespace dump_import;
using fleet::Context;

constexpr std::uint32_t kLeaseMs = 60000;
constexpr std::chrono::milliseconds kTickMs{200};
constexpr std::chrono::milliseconds kTaskWait = std::chrono::hours(1);

// Another pod runs the import now (its lease ran out here): this one leaves it as it is.
struct LeaseLost : std::runtime_error {
    LeaseLost() : std::runtime_error("the import's lease was lost") {}
};

// The archive is read (and decompressed) on this thread, not on the thread of the jobs.
asio::thread_pool& archive_thread() {
    static asio::thread_pool pool(1);
    return pool;
}

asio::awaitable<dump::Manifest> read_manifest_there(std::string file, dump::Range range) {
    co_return dump::read_manifest(file, range);
}

asio::awaitable<std::optional<dump::Piece>> next_piece_there(dump::DocumentReader* reader) {
    co_return reader->next();
}

std::string host_name() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return host;
}

// One import being run: its record, saved after every step (the lease renewed with it).
struct Run {
    Context& ctx;
    json state;
    std::uint64_t counted = 0;  // bytes already added to the metric

    std::string uid() const { return state["uid"].get<std::string>(); }
    std::string file() const { return state["file"].get<std::string>(); }
    dump::Range range() const {
        return {state["range"][0].get<std::uint64_t>(), state["range"][1].get<std::uint64_t>()};
    }
    bool created(const char* what, const std::string& uid) const {
        const auto& list = state["created"][what];
        return std::find(list.begin(), list.end(), json(uid)) != list.end();
    }
    void read_to(std::uint64_t at) {
        const auto read = at - range().begin;
        state["bytesRead"] = read;
        if (read > counted) ctx.metrics.dump_read(read - counted);
        counted = read;
    }
    asio::awaitable<void> save() {
        const bool held =
            co_await ctx.store.lease("dump-import:" + uid(), rebalancing::pod_name(), kLeaseMs);
        if (!held) throw LeaseLost();
        co_await save_state(ctx, state);
    }
    asio::awaitable<void> phase(const char* name) {
        state["phase"] = name;
        co_await save();
    }
};

// Whether `target` answers 200 (an index or a key that exists).
asio::awaitable<bool> exists(Context& ctx, const std::string& target) {
    const json none;
    const auto answer = co_await self_call(ctx, Method::get, target, none, "dump-import");
    co_return answer.status == 200;
}

// A request answered with a task, run to its end; `done_code`: a failure that counts as done.
asio::awaitable<void> run_task(Context& ctx, Method method, const std::string& target,
                               const json& body, const std::string& what,
                               const char* done_code = "") {
    const auto answer = co_await self_call(ctx, method, target, body, "dump-import");
    const auto uid = accepted_task(what, answer);
    co_await task_succeeded(ctx, what, uid, kTaskWait, done_code);
}

// Without `replace`, an index or a key of the dump that exists (and that this import did not
// create) stops the import before anything is made.
asio::awaitable<void> check_existing(Run& run, const dump::Manifest& m) {
    if (run.state["replace"] == json(true)) co_return;
    for (const auto& [uid, entry] : m.indexes) {
        if (run.created("indexes", uid)) continue;
        const bool found = co_await exists(run.ctx, "/indexes/" + uid);
        if (found) {
            throw http::error(409, "index_already_exists",
                              "Index `" + uid +
                                  "` already exists: import with `replace=true` to delete it "
                                  "first.");
        }
    }
    for (const auto& key : m.keys) {
        const auto uid = key.value("uid", std::string());
        if (uid.empty() || run.created("keys", uid)) continue;
        const bool found = co_await exists(run.ctx, "/keys/" + uid);
        if (found) {
            throw http::error(409, "api_key_already_exists",
                              "An API key with uid `" + uid +
                                  "` already exists: import with `replace=true` to delete it "
                                  "first.");
        }
    }
}

// The experimental features the source had on, turned on: the settings they gate apply.
asio::awaitable<void> enable_features(Run& run, const dump::Manifest& m) {
    if (!m.features.is_object()) co_return;
    json on = json::object();
    for (const auto& [name, value] : m.features.items()) {
        if (value == json(true)) on[name] = true;
    }
    if (on.empty()) co_return;
    const auto answer =
        co_await self_call(run.ctx, Method::patch, "/experimental-features", on, "dump-import");
    if (answer.status != 200) {
        throw failure("the experimental features", answer.status,
                      json::parse(answer.body, nullptr, false));
    }
}

// The dump's settings that differ from a new index's. A setting a new index does not show is
// gated by an experimental feature the source had off: it holds its default, and is left out.
json changed_settings(const json& dumped, const json& fresh, json& skipped) {
    json out = json::object();
    for (const auto& [name, value] : dumped.items()) {
        if (!fresh.contains(name)) {
            skipped.push_back(name);
        } else if (fresh[name] != value) {
            out[name] = value;
        }
    }
    return out;
}

// An index of the dump made (deleted first when it exists and is not this import's: with
// `replace`). It is listed as made before it is asked for, so that a restart in between makes
// it rather than find it in the way.
asio::awaitable<void> make_index(Run& run, const std::string& uid, const dump::IndexEntry& e) {
    const json none;
    const auto path = "/indexes/" + uid;
    const bool ours = run.created("indexes", uid);
    const bool found = co_await exists(run.ctx, path);
    if (found && !ours) {
        co_await run_task(run.ctx, Method::del, path, none, "deleting index `" + uid + "`");
    }
    if (!found || !ours) {
        if (!ours) {
            run.state["created"]["indexes"].push_back(uid);
            co_await run.save();
        }
        json create;
        create["uid"] = uid;
        const auto pk = e.metadata.value("primaryKey", json());
        if (pk.is_string()) create["primaryKey"] = pk;
        co_await run_task(run.ctx, Method::post, "/indexes", create, "creating index `" + uid + "`",
                          "index_already_exists");
    }
    if (e.settings.is_object()) {
        const auto answer =
            co_await self_call(run.ctx, Method::get, path + "/settings", none, "dump-import");
        const auto fresh = json::parse(answer.body, nullptr, false);
        if (answer.status != 200)
            throw failure("the settings of `" + uid + "`", answer.status, fresh);
        json skipped = json::array();
        const auto patch = changed_settings(e.settings, fresh, skipped);
        if (!patch.empty()) {
            co_await run_task(run.ctx, Method::patch, path + "/settings", patch,
                              "the settings of index `" + uid + "`");
        }
        if (!skipped.empty()) run.state["settingsSkipped"][uid] = skipped;
    }
    run.state["indexesDone"] = run.state["indexesDone"].get<std::uint64_t>() + 1;
    co_await run.save();
}

asio::awaitable<void> make_key(Run& run, const json& key) {
    const json none;
    const auto uid = key.value("uid", std::string());
    const auto expires = key.value("expires_at", json());
    if (expires.is_string()) {
        const auto at = util::parse_date(expires.get<std::string>());
        if (at && *at <= util::now()) {  // Meilisearch takes no key that expired
            run.state["keysSkipped"].push_back(uid);
            co_return;
        }
    }
    const bool ours = run.created("keys", uid);
    const bool found = co_await exists(run.ctx, "/keys/" + uid);
    if (found && ours) co_return;
    if (found) {
        const auto gone =
            co_await self_call(run.ctx, Method::del, "/keys/" + uid, none, "dump-import");
        if (gone.status != 204) {
            throw failure("deleting key `" + uid + "`", gone.status,
                          json::parse(gone.body, nullptr, false));
        }
    }
    if (!ours) {
        run.state["created"]["keys"].push_back(uid);
        co_await run.save();
    }
    const auto body = key_body(key);
    const auto made = co_await self_call(run.ctx, Method::post, "/keys", body, "dump-import");
    if (made.status != 201) {
        throw failure("creating key `" + uid + "`", made.status,
                      json::parse(made.body, nullptr, false));
    }
}

// A piece of documents sent, and its task.
struct Sent {
    std::string index;
    std::uint64_t task = 0;
    std::uint64_t end = 0;  // lines of the index known written once the task succeeded
    std::uint64_t count = 0;
};

asio::awaitable<void> confirm(Run& run, const Sent& sent) {
    co_await task_succeeded(run.ctx, "the documents of index `" + sent.index + "`", sent.task,
                            kTaskWait);
    run.state["progress"][sent.index] = sent.end;
    run.state["documentsWritten"] = run.state["documentsWritten"].get<std::uint64_t>() + sent.count;
    co_await run.save();
}

asio::awaitable<void> send_documents(Run& run, const dump::Manifest& m) {
    const auto& cfg = run.ctx.config.dump_import;
    dump::DocumentReader reader(run.file(), run.range(), cfg.batch_bytes);
    std::deque<Sent> in_flight;
    const std::string ndjson = "application/x-ndjson";
    for (;;) {
        auto piece = co_await asio::co_spawn(archive_thread(), next_piece_there(&reader),
                                             asio::use_awaitable);
        if (!piece) break;
        run.read_to(piece->read);
        const auto done = run.state["progress"].value(piece->index, std::uint64_t{0});
        if (piece->first + piece->count <= done) continue;  // written before a restart
        auto target = "/indexes/" + piece->index + "/documents";
        const auto pk = m.indexes.at(piece->index).metadata.value("primaryKey", json());
        if (pk.is_string()) target += "?primaryKey=" + http::percent_encode(pk.get<std::string>());
        const auto what = "the documents of index `" + piece->index + "`";
        // send the piece; its documents go to their owners only
        const auto answer = co_await self_send(run.ctx, Method::post, target,
                                               std::move(piece->lines), ndjson, "dump-import");
        in_flight.push_back(
            {piece->index, accepted_task(what, answer), piece->first + piece->count, piece->count});
        run.state["documentsRouted"] =
            run.state["documentsRouted"].get<std::uint64_t>() + piece->count;
        run.ctx.metrics.dump_routed(piece->count);
        // the oldest write waited for once enough are ahead of it
        while (in_flight.size() >= cfg.tasks_in_flight) {
            co_await confirm(run, in_flight.front());
            in_flight.pop_front();
        }
    }
    while (!in_flight.empty()) {
        co_await confirm(run, in_flight.front());
        in_flight.pop_front();
    }
    run.read_to(run.range().end);
}

asio::awaitable<void> import(Run& run) {
    // read the archive: all but the documents
    co_await run.phase("reading");
    const auto manifest = co_await asio::co_spawn(
        archive_thread(), read_manifest_there(run.file(), run.range()), asio::use_awaitable);
    run.read_to(run.range().end);
    describe(run.state, manifest);
    co_await run.save();
    co_await check_existing(run, manifest);
    // indexes with their settings, then keys, then documents
    co_await run.phase("indexes");
    co_await enable_features(run, manifest);
    run.state["indexesDone"] = 0;
    for (const auto& [uid, entry] : manifest.indexes) co_await make_index(run, uid, entry);
    co_await run.phase("keys");
    for (const auto& key : manifest.keys) co_await make_key(run, key);
    co_await run.phase("documents");
    run.counted = 0;
    co_await send_documents(run, manifest);
}

bool cancelled(const std::exception& e) {
    const auto* s = dynamic_cast<const boost::system::system_error*>(&e);
    return s && s->code() == asio::error::operation_aborted;
}

// Runs import `state` to its end, recording how it ended.
asio::awaitable<void> run_one(Context& ctx, json state) {
    Run run{ctx, std::move(state)};
    run.state["status"] = "processing";
    if (run.state["startedAt"].is_null()) run.state["startedAt"] = util::rfc3339(util::now());
    log::info("dump import started", {{"import", run.uid()}});
    json error;
    try {
        co_await import(run);
    } catch (const LeaseLost& e) {
        log::warn("dump import left to another pod", {{"import", run.uid()}});
        co_return;
    } catch (const std::exception& e) {
        if (cancelled(e)) throw;  // shutting down: a restart goes on from the record
        error = error_of(e);
    }
    finish(run.state, error);
    co_await run.save();
    std::error_code ignored;
    fs::remove(run.file(), ignored);
    ctx.metrics.dump_finished(error.is_null() ? "succeeded" : "failed");
    log::info("dump import finished", {{"import", run.uid()},
                                       {"status", run.state["status"].get<std::string>()},
                                       {"documents", run.state["documentsWritten"].dump()}});
}

// An upload this host received and no longer has: the import fails, saying so.
asio::awaitable<void> lost(Context& ctx, json& state) {
    json error = error_of(http::ApiError(500, "miroir_dump_upload_lost", http::ErrorType::system,
                                         "The uploaded dump is no longer in `dump_import.dir`: "
                                         "send it again (keep that directory on a volume that "
                                         "outlives a restart)."));
    finish(state, error);
    co_await save_state(ctx, state);
    ctx.metrics.dump_finished("failed");
}

}  // namespace

std::string dump_directory(const config::DumpImport& cfg) {
    const fs::path dir =
        cfg.dir.empty() ? fs::temp_directory_path() / "miroir-dumps" : fs::path(cfg.dir);
    if (fs::create_directories(dir) && cfg.dir.empty()) {
        fs::permissions(dir, fs::perms::owner_all);  // a shared temporary directory: ours only
    }
    return dir.string();
}

asio::awaitable<std::string> enqueue_dump_import(Context& ctx, DumpUpload upload) {
    auto state = new_state(util::random_uuid(), upload);
    const auto file = (fs::path(dump_directory(ctx.config.dump_import)) /
                       (state["uid"].get<std::string>() + ".dump"))
                          .string();
    fs::rename(upload.file, file);
    state["file"] = file;
    state["host"] = host_name();
    try {
        co_await save_state(ctx, state);
    } catch (...) {
        std::error_code ignored;
        fs::remove(file, ignored);
        throw;
    }
    co_return public_view(state).dump();
}

asio::awaitable<void> run_dump_imports(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    for (;;) {
        timer.expires_after(kTickMs);
        co_await timer.async_wait(asio::use_awaitable);
        auto states = co_await load_states(ctx);
        for (auto& state : states) {
            const auto status = state.value("status", std::string());
            if (status != "enqueued" && status != "processing") continue;
            if (!fs::exists(state.value("file", std::string()))) {
                // another pod's upload; or this host's, lost (a directory that did not persist)
                if (state.value("host", std::string()) == host_name()) co_await lost(ctx, state);
                continue;
            }
            const bool held =
                co_await ctx.store.lease("dump-import:" + state["uid"].get<std::string>(),
                                         rebalancing::pod_name(), kLeaseMs);
            if (!held) continue;
            co_await run_one(ctx, std::move(state));
        }
    }
}

}  // namespace miroir::workers
