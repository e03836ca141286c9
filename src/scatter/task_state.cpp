// Miroir tasks from their node tasks: the aggregation of node tasks into one task, and the
// view of a task as Meilisearch shows it.
//
// Aggregation: a task is `failed` (with the first failing node's error) as soon as one node
// task failed, `canceled` when one was canceled, `succeeded` when all succeeded, `processing`
// once any node started, `enqueued` before. It starts when its first node task started and
// finishes when its last one finished.
#include <algorithm>
#include <chrono>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/http/task_names.hpp>
#include <miroir/log/log.hpp>
#include <miroir/merge/scrub.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/settings_sync.hpp>
#include <miroir/scatter/task_state.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/util/size.hpp>
#include <miroir/util/time.hpp>
#include <miroir/util/uuid.hpp>

namespace miroir::scatter {

using namespace miroir::fleet;

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

std::int64_t to_ns(util::Time t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

json date_or_null(std::int64_t ns) {
    if (ns == 0) return nullptr;
    return util::rfc3339(
        util::Time(std::chrono::duration_cast<util::Time::duration>(std::chrono::nanoseconds(ns))));
}

std::int64_t node_date(const nlohmann::json& j, const char* key) {
    if (!j.contains(key) || !j[key].is_string()) return 0;
    const auto t = util::parse_date(j[key].get<std::string>());
    return t ? to_ns(*t) : 0;
}

// A compaction's details: the sizes before and after, summed over every node (each copy takes
// room), written as a node writes them.
void sum_sizes(tasks::Task& task) {
    std::uint64_t before = 0, after = 0;
    for (const auto& n : task.node_tasks) {
        const auto d = nlohmann::json::parse(n.details, nullptr, false);
        if (!d.is_object()) continue;
        before += util::parse_human_size(d.value("preCompactionSize", "")).value_or(0);
        after += util::parse_human_size(d.value("postCompactionSize", "")).value_or(0);
    }
    json details;
    details["preCompactionSize"] = util::human_size(before);
    details["postCompactionSize"] = util::human_size(after);
    task.details = details.dump();
}

// Recomputes status, dates and final details from the node tasks; true when anything changed.
bool aggregate(tasks::Task& task) {
    if (task.node_tasks.empty() || task.finished()) return false;
    const auto before = task.status;
    bool all_succeeded = true, any_started = false;
    const tasks::NodeTask* failed = nullptr;
    const tasks::NodeTask* canceled = nullptr;
    std::int64_t started = 0, finished = 0, deleted = 0, edited = 0;
    for (const auto& n : task.node_tasks) {
        if (n.status != "succeeded") all_succeeded = false;
        if (n.status == "failed" && !failed) failed = &n;
        if (n.status == "canceled" && !canceled) canceled = &n;
        if (n.started_at) {
            any_started = true;
            started = started ? std::min(started, n.started_at) : n.started_at;
        }
        finished = std::max(finished, n.finished_at);
        deleted += n.deleted_documents;
        edited += n.edited_documents;
    }
    if (failed) {
        task.status = "failed";
        task.error = failed->error;
    } else if (canceled) {
        task.status = "canceled";
        task.canceled_by = task.cancel_requested_by;
    } else if (all_succeeded) {
        task.status = "succeeded";
    } else if (any_started) {
        task.status = "processing";
    }
    task.started_at = started;
    if (task.finished()) {
        task.finished_at = finished ? finished : scatter::now_ns();
        if (!task.started_at) task.started_at = task.finished_at;
        finish_details(task, deleted, edited);
        if (task.type == "indexCompaction" && task.status == "succeeded") sum_sizes(task);
        // rules are the same on every node: one node's account is the fleet's
        const bool rules = task.type == "dsrUpdate" || task.type == "dsrClear";
        if (rules && !task.node_tasks.front().details.empty()) {
            task.details = task.node_tasks.front().details;
        }
        // searches read settings from a short cache: a settings change shows once it is done
        if (!task.index_uid.empty() && task.type != "documentAdditionOrUpdate" &&
            task.type != "documentDeletion" && task.type != "documentEdition") {
            forget_settings(task.index_uid);
        }
    }
    return task.status != before || task.finished();
}

// Asks one node about some of its tasks (GET /tasks?uids=...) and records the answers.
asio::awaitable<void> poll_node(Context& ctx, std::size_t node,
                                std::vector<tasks::NodeTask*> pending) {
    std::string uids;
    for (const auto* n : pending) uids += (uids.empty() ? "" : ",") + std::to_string(n->uid);
    upstream::UpstreamRequest request;
    request.target = "/tasks?limit=" + std::to_string(pending.size()) + "&uids=" + uids;
    const auto result = co_await ctx.nodes[node]->send(
        std::move(request), std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms));
    if (!result || result->status != 200) co_return;  // asked again on the next poll
    const auto body = nlohmann::json::parse(result->body, nullptr, false);
    if (!body.is_object() || !body.contains("results")) co_return;
    for (const auto& t : body["results"]) {
        if (!t.contains("uid") || !t["uid"].is_number_unsigned()) continue;
        const auto uid = t["uid"].get<std::uint64_t>();
        for (auto* n : pending) {
            if (n->uid != uid) continue;
            n->status = t.value("status", n->status);
            if (t.contains("error") && t["error"].is_object()) {
                auto error = t["error"];
                // the node lists the attributes a filter may use, Miroir's own among them
                if (error.contains("message") && error["message"].is_string()) {
                    error["message"] = merge::scrub_error_message(
                        error["message"].get<std::string>(), routing::kReservedPrefix);
                }
                n->error = error.dump();
            }
            n->started_at = node_date(t, "startedAt");
            n->finished_at = node_date(t, "finishedAt");
            if (t.contains("details") && t["details"].is_object()) {
                const auto& d = t["details"];
                if (d.contains("deletedDocuments") && d["deletedDocuments"].is_number()) {
                    n->deleted_documents = d["deletedDocuments"].get<std::int64_t>();
                }
                if (d.contains("editedDocuments") && d["editedDocuments"].is_number()) {
                    n->edited_documents = d["editedDocuments"].get<std::int64_t>();
                }
                if (d.contains("preCompactionSize") || d.contains("updatedRules") ||
                    d.contains("deletedRules")) {
                    n->details = d.dump();
                }
            }
        }
    }
}

}  // namespace

void finish_details(tasks::Task& task, std::int64_t node_deleted, std::int64_t node_edited) {
    if (task.details.empty()) return;
    auto details = json::parse(task.details);
    const bool ok = task.status == "succeeded";
    const auto copies = std::max<std::int64_t>(1, task.copies);
    if (task.type == "documentEdition") {
        // as a node reports a failed edition: nothing edited, deletions unknown
        details["editedDocuments"] = ok ? node_edited / copies : 0;
        details["deletedDocuments"] = ok ? json(node_deleted / copies) : json(nullptr);
        task.details = details.dump();
        return;
    }
    if (details.contains("indexedDocuments")) {
        details["indexedDocuments"] = ok ? details.value("receivedDocuments", 0) : 0;
    }
    if (task.type == "taskCancelation") details["canceledTasks"] = ok ? task.planned : 0;
    if (details.contains("deletedDocuments")) {
        details["deletedDocuments"] =
            ok ? node_deleted / std::max<std::int64_t>(1, task.copies) : 0;
    }
    task.details = details.dump();
}

json task_view(const tasks::Task& t) {
    json j;
    j["uid"] = t.uid;
    j["batchUid"] = t.started_at ? json(t.uid) : json(nullptr);
    j["indexUid"] = t.index_uid.empty() ? json(nullptr) : json(t.index_uid);
    j["status"] = t.status;
    j["type"] = t.type;
    j["canceledBy"] = t.canceled_by ? json(*t.canceled_by) : json(nullptr);
    if (!t.details.empty()) j["details"] = json::parse(t.details);
    j["error"] = t.error.empty() ? json(nullptr) : json::parse(t.error);
    j["duration"] = t.started_at && t.finished_at
                        ? json(util::iso_duration(std::chrono::nanoseconds(
                              std::max<std::int64_t>(0, t.finished_at - t.started_at))))
                        : json(nullptr);
    j["enqueuedAt"] = date_or_null(t.enqueued_at);
    j["startedAt"] = date_or_null(t.started_at);
    j["finishedAt"] = date_or_null(t.finished_at);
    if (t.custom_metadata) j["customMetadata"] = *t.custom_metadata;
    return j;
}

std::map<std::size_t, std::string> node_task_uids(const Fleet& fleet,
                                                  const std::vector<tasks::Task>& ts,
                                                  bool unfinished_only) {
    std::map<std::size_t, std::string> out;
    for (const auto& t : ts) {
        for (const auto& n : t.node_tasks) {
            if (unfinished_only && n.status != "enqueued" && n.status != "processing") continue;
            for (std::size_t i = 0; i < fleet.size(); ++i) {
                if (fleet.node_id(i) != n.node) continue;
                auto& list = out[i];
                list += (list.empty() ? "" : ",") + std::to_string(n.uid);
            }
        }
    }
    return out;
}

asio::awaitable<bool> complete_deletion(Context& ctx, tasks::Task& task) {
    if (task.finished()) co_return true;
    tasks::TaskFilter filter;
    filter.uids = task.targets;
    std::vector<tasks::Task> targets;
    std::optional<std::uint64_t> from;
    while (!filter.uids.empty()) {
        auto page = co_await ctx.store.list(filter, from, 1000, false);
        for (auto& t : page.tasks) targets.push_back(std::move(t));
        if (!page.next) break;
        from = page.next;
    }
    // each is deleted once it has finished: the unfinished ones are brought up to date first
    std::vector<tasks::Task> open;
    for (const auto& t : targets) {
        if (!t.finished()) open.push_back(t);
    }
    if (!open.empty()) co_await refresh(ctx, open);
    for (const auto& t : open) {
        if (!t.finished()) co_return false;
    }
    // one pod deletes (a claim that lapses if that pod dies before it is done)
    const auto first = co_await ctx.store.claim("task-deletion:" + std::to_string(task.uid),
                                                util::random_uuid(), 60'000);
    if (first) co_return false;
    // the node tasks behind them, on their nodes, as housekeeping
    std::vector<std::uint64_t> uids;
    for (const auto& t : targets) uids.push_back(t.uid);
    std::vector<NodeCall> calls;
    for (const auto& [node, list] : node_task_uids(*ctx.fleet(), targets, false)) {
        calls.push_back({node, node_request(http::Method::del, "/tasks?uids=" + list)});
    }
    co_await fan_out(ctx, std::move(calls));
    const auto deleted = co_await ctx.store.erase(uids);
    auto details = json::parse(task.details);
    details["deletedTasks"] = deleted;
    task.details = details.dump();
    task.status = "succeeded";
    task.started_at = task.finished_at = now_ns();
    co_await ctx.store.update(task);
    if (ctx.task_finished) ctx.task_finished(task);
    co_return true;
}

asio::awaitable<void> refresh(Context& ctx, std::vector<tasks::Task>& batch) {
    for (auto& task : batch) {
        if (task.type == "taskDeletion" && task.node_tasks.empty()) {
            co_await complete_deletion(ctx, task);
        }
    }
    // one GET /tasks?uids=... per node for every pending node task of the batch
    std::map<std::string, std::vector<tasks::NodeTask*>> by_node;
    for (auto& task : batch) {
        for (auto& n : task.node_tasks) {
            if (n.status == "enqueued" || n.status == "processing") by_node[n.node].push_back(&n);
        }
    }
    std::vector<asio::awaitable<void>> polls;
    const auto fleet = ctx.fleet();
    for (auto& [id, pending] : by_node) {
        for (std::size_t i = 0; i < fleet->size(); ++i) {
            if (fleet->node_id(i) == id) polls.push_back(poll_node(ctx, i, std::move(pending)));
        }
    }
    // run the polls concurrently; each records its own answers
    std::vector<asio::awaitable<upstream::UpstreamResult>> wrapped;
    for (auto& p : polls) {
        wrapped.push_back(
            [](asio::awaitable<void> inner) -> asio::awaitable<upstream::UpstreamResult> {
                co_await std::move(inner);
                co_return upstream::UpstreamResponse{};
            }(std::move(p)));
    }
    co_await upstream::gather(std::move(wrapped));
    for (auto& task : batch) {
        if (!aggregate(task)) continue;
        // a settings change is verified and committed before its task reads as finished
        if (task.finished()) co_await settings_task_finished(ctx, task);
        co_await ctx.store.update(task);
        // (aggregate() leaves a finished task alone: this one just finished)
        if (task.finished() && ctx.task_finished) ctx.task_finished(task);
    }
}

asio::awaitable<std::optional<tasks::Task>> wait_finished(Context& ctx, std::uint64_t uid,
                                                          std::chrono::milliseconds limit) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::chrono::milliseconds pause{10};
    for (;;) {
        auto task = co_await ctx.store.get(uid);
        if (task && task->finished()) co_return task;
        if (std::chrono::steady_clock::now() > deadline) co_return std::nullopt;
        // asked of the nodes now rather than at the task poller's next round
        if (task) {
            std::vector<tasks::Task> one = {*task};
            co_await refresh(ctx, one);
            if (one.front().finished()) co_return one.front();
        }
        timer.expires_after(pause);
        co_await timer.async_wait(asio::use_awaitable);
        pause = std::min(pause * 2, std::chrono::milliseconds(200));
    }
}

}  // namespace miroir::scatter
