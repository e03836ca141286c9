// GET /tasks, GET /tasks/{uid}, POST /tasks/cancel and DELETE /tasks over Miroir's tasks.
#include <algorithm>
#include <chrono>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/batches.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/http/task_names.hpp>
#include <miroir/log/log.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/settings_sync.hpp>
#include <miroir/scatter/task_state.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/util/time.hpp>

#include "route.hpp"

namespace miroir::meili {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

using http::kTaskFilterParams;
using http::kTaskStatuses;
using http::kTaskTypes;

std::int64_t to_ns(util::Time t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::vector<std::string> names_in(const std::optional<std::string>& v, const char* param,
                                  const char* code, const std::vector<std::string>* allowed) {
    std::vector<std::string> out;
    if (!v || *v == "*") return out;
    for (const auto& item : http::split_csv(*v)) {
        if (!allowed) {
            out.push_back(item);
            continue;
        }
        auto match = std::find_if(allowed->begin(), allowed->end(), [&](const auto& a) {
            return std::equal(a.begin(), a.end(), item.begin(), item.end(),
                              [](char x, char y) { return std::tolower(x) == std::tolower(y); });
        });
        if (match == allowed->end()) {
            const bool types = std::string_view(param) == "types";
            throw http::error(400, code,
                              "Invalid value in parameter `" + std::string(param) + "`: `" + item +
                                  "` is not a valid " + (types ? "task type" : "task status") +
                                  ". Available " + (types ? "types" : "statuses") + " are " +
                                  http::backquoted_list(*allowed) + ".");
        }
        out.push_back(*match);
    }
    return out;
}

std::vector<std::uint64_t> numbers_in(const std::optional<std::string>& v, const char* param,
                                      const char* code) {
    std::vector<std::uint64_t> out;
    if (!v || *v == "*") return out;
    for (const auto& item : http::split_csv(*v)) {
        const bool ok =
            !item.empty() && item.size() < 20 &&
            std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!ok) {
            throw http::error(400, code,
                              "Invalid value in parameter `" + std::string(param) +
                                  "`: could not parse `" + item + "` as a positive integer");
        }
        out.push_back(std::stoull(item));
    }
    return out;
}

std::optional<std::int64_t> date_in(const http::Query& q, const char* param, bool before) {
    auto v = q.get(param);
    if (!v || *v == "*") return std::nullopt;  // `*`: any date, as Meilisearch takes it
    bool date_only = false;
    auto t = util::parse_date(*v, &date_only);
    if (!t) {
        throw http::error(400, "invalid_task_" + http::snake_case(param),
                          "Invalid value in parameter `" + std::string(param) + "`: `" + *v +
                              "` is an invalid date-time. It should follow the YYYY-MM-DD or "
                              "RFC 3339 date-time format.");
    }
    // a bare date means midnight for before*, the next midnight for after*
    if (date_only && !before && *t < util::Time::max() - std::chrono::hours(24)) {
        *t += std::chrono::hours(24);
    }
    return to_ns(*t);
}

tasks::TaskFilter filter_of(const http::Query& q) {
    tasks::TaskFilter f;
    f.uids = numbers_in(q.get("uids"), "uids", "invalid_task_uids");
    f.canceled_by = numbers_in(q.get("canceledBy"), "canceledBy", "invalid_task_canceled_by");
    // Miroir runs each task as its own batch: a batch uid is the task uid
    const auto batches = numbers_in(q.get("batchUids"), "batchUids", "invalid_task_batch_uids");
    f.uids.insert(f.uids.end(), batches.begin(), batches.end());
    f.types = names_in(q.get("types"), "types", "invalid_task_types", &kTaskTypes);
    f.statuses = names_in(q.get("statuses"), "statuses", "invalid_task_statuses", &kTaskStatuses);
    f.index_uids = names_in(q.get("indexUids"), "indexUids", "invalid_index_uid", nullptr);
    for (const auto& uid : f.index_uids) {
        if (uid == "*") continue;
        try {
            check_index_uid(uid);
        } catch (const http::ApiError& e) {
            throw http::ApiError(
                e.status(), e.code(), e.type(),
                std::string("Invalid value in parameter `indexUids`: ") + e.what());
        }
    }
    f.before_enqueued_at = date_in(q, "beforeEnqueuedAt", true);
    f.after_enqueued_at = date_in(q, "afterEnqueuedAt", false);
    f.before_started_at = date_in(q, "beforeStartedAt", true);
    f.after_started_at = date_in(q, "afterStartedAt", false);
    f.before_finished_at = date_in(q, "beforeFinishedAt", true);
    f.after_finished_at = date_in(q, "afterFinishedAt", false);
    return f;
}

// Miroir runs each of its tasks as its own batch, once it started: the batch of task N is
// batch N, as GET /batches shows it.
json batch_view(const tasks::Task& t) { return http::single_task_batch(t.uid, task_view(t)); }

// GET /tasks and GET /batches: a page of the tasks (or of the batches: the tasks that started)
// matching the filters, newest first.
asio::awaitable<http::Response> list_tasks(Context& ctx, http::Request& r, bool batches) {
    const http::Query q(
        r.query, {"limit", "from", "reverse", "batchUids", "uids", "canceledBy", "types",
                  "statuses", "indexUids", "afterEnqueuedAt", "beforeEnqueuedAt", "afterStartedAt",
                  "beforeStartedAt", "afterFinishedAt", "beforeFinishedAt"});
    auto filter = filter_of(q);
    filter.index_patterns = r.key_indexes;
    filter.started = batches;
    const auto limit = q.get_uint("limit", "invalid_task_limit").value_or(20);
    const auto from = q.get_uint("from", "invalid_task_from");
    const bool reverse = q.get_bool("reverse", "invalid_task_reverse").value_or(false);

    // bring the unfinished tasks of the page up to date, then read the page again (a status
    // filter may now select other tasks)
    auto page = co_await ctx.store.list(filter, from, static_cast<std::uint32_t>(limit), reverse);
    std::vector<tasks::Task> stale;
    for (auto& t : page.tasks) {
        if (!t.finished()) stale.push_back(std::move(t));
    }
    if (!stale.empty()) {
        co_await refresh(ctx, stale);
        page = co_await ctx.store.list(filter, from, static_cast<std::uint32_t>(limit), reverse);
    }
    json results = json::array();
    for (const auto& t : page.tasks) results.push_back(batches ? batch_view(t) : task_view(t));
    json body;
    body["results"] = std::move(results);
    body["total"] = page.total;
    body["limit"] = limit;
    body["from"] = page.tasks.empty() ? json(nullptr) : json(page.tasks.front().uid);
    body["next"] = page.next ? json(*page.next) : json(nullptr);
    co_return http::respond(200, body);
}

// GET /tasks/{uid} and GET /batches/{uid} (a batch is a task that started).
asio::awaitable<http::Response> get_task(Context& ctx, http::Request& r, bool batch) {
    const std::string text(r.param("uid"));
    const std::string what = batch ? "Batch" : "Task";
    check_task_uid(text, batch);
    auto task = co_await ctx.store.get(std::stoull(text));
    const bool hidden = task && r.key_indexes && !r.index_allowed(task->index_uid);
    if (task && !task->finished()) {
        std::vector<tasks::Task> one{std::move(*task)};
        co_await refresh(ctx, one);
        task = std::move(one.front());
    }
    if (!task || hidden || (batch && task->started_at == 0)) {
        throw http::error(404, batch ? "batch_not_found" : "task_not_found",
                          what + " `" + text + "` not found.");
    }
    co_return http::respond(200, batch ? batch_view(*task) : task_view(*task));
}

// Every task matching the filter, newest first.
asio::awaitable<std::vector<tasks::Task>> all_matching(Context& ctx,
                                                       const tasks::TaskFilter& filter) {
    std::vector<tasks::Task> out;
    std::optional<std::uint64_t> from;
    for (;;) {
        auto page = co_await ctx.store.list(filter, from, 1000, false);
        for (auto& t : page.tasks) out.push_back(std::move(t));
        if (!page.next) break;
        from = page.next;
    }
    co_return out;
}

// The filters of POST /tasks/cancel and DELETE /tasks; at least one is required.
tasks::TaskFilter required_filter(const http::Query& q, const char* what) {
    bool any = false;
    for (auto name : kTaskFilterParams) any = any || q.has(name);
    if (!any) {
        throw http::error(400, "missing_task_filters",
                          std::string("Query parameters to filter the tasks to ") + what +
                              " are missing. Available query parameters are: `uids`, "
                              "`indexUids`, `statuses`, `types`, `canceledBy`, "
                              "`beforeEnqueuedAt`, `afterEnqueuedAt`, `beforeStartedAt`, "
                              "`afterStartedAt`, `beforeFinishedAt`, `afterFinishedAt`.");
    }
    return filter_of(q);
}

// POST /tasks/cancel: the node tasks behind the matching unfinished Miroir tasks are canceled
// on their nodes; the cancelation is a Miroir task made of the nodes' cancelation tasks.
asio::awaitable<http::Response> cancel_tasks(Context& ctx, http::Request& r) {
    const http::Query q(r.query, kTaskFilterParams);
    auto filter = required_filter(q, "cancel");
    filter.index_patterns = r.key_indexes;
    auto matched = co_await all_matching(ctx, filter);
    std::vector<tasks::Task> open;
    for (auto& t : matched) {
        if (!t.finished()) open.push_back(t);
    }
    if (!open.empty()) co_await refresh(ctx, open);
    std::erase_if(open, [](const tasks::Task& t) { return t.finished(); });

    std::vector<NodeCall> calls;
    for (const auto& [node, uids] : node_task_uids(*ctx.fleet(), open, true)) {
        calls.push_back({node, node_request(http::Method::post, "/tasks/cancel?uids=" + uids)});
    }
    json details;
    details["matchedTasks"] = matched.size();
    details["canceledTasks"] = nullptr;
    details["originalFilter"] = "?" + q.raw();
    auto task = new_task("", "taskCancelation", details, 1);
    task.planned = open.size();
    const auto outcomes = co_await fan_out(ctx, std::move(calls));
    const std::vector<std::uint32_t> no_shards;  // a local: no braced lists in co_await
    const auto fleet = ctx.fleet();  // one snapshot: the write is routed and judged on it
    auto response = co_await conclude(ctx, *fleet, std::move(task), outcomes, no_shards);
    if (response.status == 202) {
        const auto uid = nlohmann::json::parse(response.body)["taskUid"].get<std::uint64_t>();
        for (auto& t : open) {
            t.cancel_requested_by = uid;
            co_await ctx.store.update(t);
        }
        response.status = 200;  // as Meilisearch answers a cancelation
    }
    co_return response;
}

// DELETE /tasks: finished Miroir tasks leave the store at once; their node tasks are deleted
// on the nodes as housekeeping.
asio::awaitable<http::Response> delete_tasks(Context& ctx, http::Request& r) {
    const http::Query q(r.query, kTaskFilterParams);
    auto filter = required_filter(q, "delete");
    filter.index_patterns = r.key_indexes;
    const auto matched = co_await all_matching(ctx, filter);
    json details;
    details["matchedTasks"] = matched.size();
    details["deletedTasks"] = nullptr;
    details["originalFilter"] = "?" + q.raw();
    auto task = new_task("", "taskDeletion", details, 1);
    for (const auto& t : matched) task.targets.push_back(t.uid);
    co_await record(ctx, task);
    const auto answer = summary(task);
    // the matched tasks that have all finished go at once; others once they finish (the
    // task poller and task reads run the deletion again)
    co_await complete_deletion(ctx, task);
    co_return http::respond(200, answer);
}

}  // namespace

bool is_task_uid(const std::string& text) {
    return !text.empty() && text.size() < 20 &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void check_task_uid(const std::string& text, bool batch) {
    if (is_task_uid(text)) return;
    throw http::error(400, batch ? "invalid_batch_uids" : "invalid_task_uids",
                      std::string(batch ? "Batch" : "Task") + " uid `" + text +
                          "` is invalid. It should only contain numeric characters.");
}

void add_task_routes(http::Router& router, Context& ctx) {
    router.add(http::Method::get, "/tasks", "tasks.get",
               [&ctx](http::Request& r) { return list_tasks(ctx, r, false); });
    router.add(http::Method::get, "/tasks/{uid}", "tasks.get",
               [&ctx](http::Request& r) { return get_task(ctx, r, false); });
    add_task_document_routes(router, ctx);
    router.add(http::Method::get, "/batches", "tasks.get",
               [&ctx](http::Request& r) { return list_tasks(ctx, r, true); });
    router.add(http::Method::get, "/batches/{uid}", "tasks.get",
               [&ctx](http::Request& r) { return get_task(ctx, r, true); });
    router.add(http::Method::post, "/tasks/cancel", "tasks.cancel",
               [&ctx](http::Request& r) { return cancel_tasks(ctx, r); });
    router.add(http::Method::del, "/tasks", "tasks.delete",
               [&ctx](http::Request& r) { return delete_tasks(ctx, r); });
}

}  // namespace miroir::meili
