// The development node's task routes: GET /tasks, GET /tasks/{uid}, POST /tasks/cancel and
// DELETE /tasks; GET /batches and GET /batches/{uid} (each task runs as its own batch).
#include <algorithm>
#include <set>

#include <miroir/http/api_error.hpp>
#include <miroir/http/api_keys.hpp>
#include <miroir/http/batches.hpp>
#include <miroir/http/task_names.hpp>

#include "node.hpp"

namespace devnode {

namespace http = miroir::http;
using http::Method;

namespace {

std::uint32_t parse_task_uid(const std::string& s, bool batch = false) {
    const bool ok = !s.empty() && s.size() < 11 &&
                    std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!ok || std::stoull(s) > 0xffffffffULL) {
        throw error(400, batch ? "invalid_batch_uids" : "invalid_task_uids",
                    std::string(batch ? "Batch" : "Task") + " uid `" + s +
                        "` is invalid. It should only contain numeric characters.");
    }
    return static_cast<std::uint32_t>(std::stoull(s));
}

using miroir::http::kTaskFilterParams;
using miroir::http::kTaskStatuses;
using miroir::http::kTaskTypes;

// The task filters shared by GET /tasks, POST /tasks/cancel and DELETE /tasks.
struct TaskFilter {
    std::optional<std::set<std::uint32_t>> uids, batch_uids, canceled_by;
    std::optional<std::set<std::string>> types, statuses, index_uids;
    std::optional<Time> before_enqueued, after_enqueued, before_started, after_started,
        before_finished, after_finished;
    bool any = false;
    bool batches = false;  // `uids` names batches

    explicit TaskFilter(const Query& q, bool of_batches = false) : batches(of_batches) {
        uids = uid_set(q, "uids", "invalid_task_uids");
        batch_uids = uid_set(q, "batchUids", "invalid_task_batch_uids");
        canceled_by = uid_set(q, "canceledBy", "invalid_task_canceled_by");
        types = name_set(q, "types", "invalid_task_types", &kTaskTypes);
        statuses = name_set(q, "statuses", "invalid_task_statuses", &kTaskStatuses);
        index_uids = name_set(q, "indexUids", "invalid_index_uid", nullptr);
        before_enqueued = date(q, "beforeEnqueuedAt", true);
        after_enqueued = date(q, "afterEnqueuedAt", false);
        before_started = date(q, "beforeStartedAt", true);
        after_started = date(q, "afterStartedAt", false);
        before_finished = date(q, "beforeFinishedAt", true);
        after_finished = date(q, "afterFinishedAt", false);
    }

    bool matches(const Task& t) const {
        if (batches && !t.batch_uid) return false;
        if (uids && !uids->count(batches ? *t.batch_uid : t.uid)) return false;
        if (batch_uids && (!t.batch_uid || !batch_uids->count(*t.batch_uid))) return false;
        if (canceled_by && (!t.canceled_by || !canceled_by->count(*t.canceled_by))) return false;
        if (types && !types->count(t.type)) return false;
        if (statuses && !statuses->count(t.status)) return false;
        if (index_uids && (!t.index_uid || !index_uids->count(*t.index_uid))) return false;
        auto in = [](std::optional<Time> at, const std::optional<Time>& before,
                     const std::optional<Time>& after) {
            if (!before && !after) return true;
            if (!at) return false;
            if (before && !(*at < *before)) return false;
            if (after && !(*at > *after)) return false;
            return true;
        };
        return in(t.enqueued_at, before_enqueued, after_enqueued) &&
               in(t.started_at, before_started, after_started) &&
               in(t.finished_at, before_finished, after_finished);
    }

  private:
    // A list of uids (`*`: every one).
    std::optional<std::set<std::uint32_t>> uid_set(const Query& q, const char* name,
                                                   const char* code) {
        std::optional<std::set<std::uint32_t>> out;
        if (auto v = q.get(name); v && *v != "*") {
            out.emplace();
            for (const auto& item : split_csv(*v)) {
                const bool ok = !item.empty() && std::all_of(item.begin(), item.end(), [](char c) {
                    return c >= '0' && c <= '9';
                });
                if (!ok) {
                    throw error(400, code,
                                "Invalid value in parameter `" + std::string(name) +
                                    "`: could not parse `" + item + "` as a positive integer");
                }
                out->insert(static_cast<std::uint32_t>(std::stoull(item)));
            }
        }
        if (q.has(name)) any = true;
        return out;
    }

    // A list of names (`*`: every one): index uids when `allowed` is null, else task types or
    // statuses, matched without case and kept as `allowed` spells them.
    std::optional<std::set<std::string>> name_set(const Query& q, const char* name,
                                                  const char* code,
                                                  const std::vector<std::string>* allowed) {
        std::optional<std::set<std::string>> out;
        if (auto v = q.get(name); v && *v != "*") {
            out.emplace();
            for (const auto& item : split_csv(*v)) {
                if (!allowed) {
                    try {
                        check_index_uid(item);
                    } catch (const ApiError& e) {
                        throw ApiError(
                            e.status(), e.code(), e.type(),
                            "Invalid value in parameter `" + std::string(name) + "`: " + e.what());
                    }
                    out->insert(item);
                    continue;
                }
                out->insert(allowed_name(name, code, *allowed, item));
            }
        }
        if (q.has(name)) any = true;
        return out;
    }

    static std::string allowed_name(const char* name, const char* code,
                                    const std::vector<std::string>& allowed,
                                    const std::string& item) {
        auto match = std::find_if(allowed.begin(), allowed.end(), [&](auto& a) {
            return std::equal(a.begin(), a.end(), item.begin(), item.end(),
                              [](char x, char y) { return tolower(x) == tolower(y); });
        });
        if (match == allowed.end()) {
            const bool types = std::string(name) == "types";
            throw error(400, code,
                        "Invalid value in parameter `" + std::string(name) + "`: `" + item +
                            "` is not a valid " + (types ? "task type" : "task status") +
                            ". Available " + (types ? "types" : "statuses") + " are " +
                            backquoted_list(allowed) + ".");
        }
        return *match;
    }

    // A date or date-time; a date alone after `after*` means the end of that day.
    std::optional<Time> date(const Query& q, const char* name, bool before) {
        auto v = q.get(name);
        if (!v) return std::nullopt;
        any = true;
        if (*v == "*") return std::nullopt;  // any date
        bool date_only = false;
        auto t = parse_date(*v, &date_only);
        if (!t) {
            throw error(400, "invalid_task_" + snake_case(name),
                        "Invalid value in parameter `" + std::string(name) + "`: `" + *v +
                            "` is an invalid date-time. It should follow the YYYY-MM-DD or "
                            "RFC 3339 date-time format.");
        }
        if (date_only && !before && *t < Time::max() - std::chrono::hours(24)) {
            *t += std::chrono::hours(24);
        }
        return t;
    }
};

// GET /tasks/{uid}.
Response get_task(State& state, Request& r) {
    const auto uid = parse_task_uid(std::string(r.param("uid")));
    std::lock_guard lock(state.mutex);
    auto it = state.tasks.find(uid);
    if (it == state.tasks.end()) {
        throw error(404, "task_not_found", "Task `" + std::to_string(uid) + "` not found.");
    }
    return respond(200, it->second.to_json());
}

// A task's batch, as GET /batches shows it: the task alone in it.
json batch_view(const Task& t) { return http::single_task_batch(*t.batch_uid, t.to_json()); }

// GET /tasks (and, with `batches`, GET /batches): the tasks the filters select (or their
// batches, `uids` naming batches), newest first (oldest with `reverse`), from `from`.
Response list_tasks(State& state, Request& r, bool batches) {
    Query q(r.query, {"limit", "from", "reverse", "batchUids", "uids", "canceledBy", "types",
                      "statuses", "indexUids", "afterEnqueuedAt", "beforeEnqueuedAt",
                      "afterStartedAt", "beforeStartedAt", "afterFinishedAt", "beforeFinishedAt"});
    TaskFilter filter(q, batches);
    const auto limit = q.get_uint("limit", "invalid_task_limit").value_or(20);
    const auto from = q.get_uint("from", "invalid_task_from");
    const bool reverse = q.get_bool("reverse", "invalid_task_reverse").value_or(false);
    std::lock_guard lock(state.mutex);
    std::vector<const Task*> matched;
    for (const auto& [uid, t] : state.tasks) {
        if (filter.matches(t)) matched.push_back(&t);
    }
    auto uid_of = [batches](const Task* t) { return batches ? *t->batch_uid : t->uid; };
    std::sort(matched.begin(), matched.end(), [&](const Task* a, const Task* b) {
        return reverse ? uid_of(a) < uid_of(b) : uid_of(a) > uid_of(b);
    });
    json results = json::array();
    std::optional<std::uint32_t> next;
    for (const Task* t : matched) {
        const auto uid = uid_of(t);
        if (from && (reverse ? uid < *from : uid > *from)) continue;
        if (results.size() == limit) {
            next = uid;
            break;
        }
        results.push_back(batches ? batch_view(*t) : t->to_json());
    }
    json j;
    j["results"] = results;
    j["total"] = matched.size();
    j["limit"] = limit;
    j["from"] = results.empty() ? json(nullptr) : results[0]["uid"];
    j["next"] = next ? json(*next) : json(nullptr);
    return respond(200, j);
}

// GET /batches/{uid}.
Response get_batch(State& state, Request& r) {
    const auto uid = parse_task_uid(std::string(r.param("uid")), true);
    std::lock_guard lock(state.mutex);
    for (const auto& [task_uid, t] : state.tasks) {
        if (t.batch_uid == uid) return respond(200, batch_view(t));
    }
    throw error(404, "batch_not_found", "Batch `" + std::to_string(uid) + "` not found.");
}

// GET /tasks/{uid}/documents (the `getTaskDocumentsRoute` feature): the documents of a document
// addition that has not been processed yet, as compact JSON objects one after the other.
Response task_documents(State& state, Request& r) {
    std::lock_guard lock(state.mutex);
    if (state.features.value("getTaskDocumentsRoute", false) != true) {
        throw error(400, "feature_not_enabled",
                    "Getting the documents of an enqueued task requires enabling the `get task "
                    "documents route` experimental feature. See "
                    "https://github.com/orgs/meilisearch/discussions/808");
    }
    const auto uid = parse_task_uid(std::string(r.param("uid")));
    auto it = state.tasks.find(uid);
    if (it == state.tasks.end()) {
        throw error(404, "task_not_found", "Task `" + std::to_string(uid) + "` not found.");
    }
    const auto& task = it->second;
    if (task.type != "documentAdditionOrUpdate" ||
        (task.status != "enqueued" && task.status != "processing")) {
        throw error(404, "task_file_not_found",
                    "Task `" + std::to_string(uid) +
                        "` does not contain any documents. Only `documentAdditionOrUpdate` tasks "
                        "with the statuses `enqueued` or `processing` contain documents");
    }
    Response out;
    out.status = 200;
    out.headers.set("Content-Type", "application/x-ndjson");
    for (const auto& doc : task.op.documents) out.body += doc.dump();
    return out;
}

// POST /tasks/cancel (`cancel`) and DELETE /tasks: a taskCancelation or taskDeletion task over
// the tasks the filters select (at least one filter is required).
Response enqueue_cancel_or_delete(State& state, Request& r, bool cancel) {
    Query q(r.query, kTaskFilterParams);
    TaskFilter filter(q);
    if (!filter.any) {
        throw error(400, "missing_task_filters",
                    std::string("Query parameters to filter the tasks to ") +
                        (cancel ? "cancel" : "delete") +
                        " are missing. Available query parameters are: `uids`, "
                        "`indexUids`, `statuses`, `types`, `canceledBy`, "
                        "`beforeEnqueuedAt`, `afterEnqueuedAt`, `beforeStartedAt`, "
                        "`afterStartedAt`, `beforeFinishedAt`, `afterFinishedAt`.");
    }
    std::lock_guard lock(state.mutex);
    Operation op;
    for (const auto& [uid, t] : state.tasks) {
        if (filter.matches(t)) op.matched.push_back(uid);
    }
    json details;
    details["matchedTasks"] = op.matched.size();
    details[cancel ? "canceledTasks" : "deletedTasks"] = nullptr;
    details["originalFilter"] = "?" + r.query;
    auto& task = state.enqueue(cancel ? "taskCancelation" : "taskDeletion", std::nullopt, details,
                               std::move(op));
    return respond(200, task.summary());
}

}  // namespace

void Node::add_task_routes() {
    add(
        Method::get, "/tasks", "tasks.get",
        [this](Request& r) { return list_tasks(state_, r, false); }, false);
    add(
        Method::get, "/tasks/{uid}", "tasks.get",
        [this](Request& r) { return get_task(state_, r); }, false);
    add(
        Method::get, "/tasks/{uid}/documents", "tasks.get",
        [this](Request& r) { return task_documents(state_, r); }, false);
    add(
        Method::get, "/batches", "tasks.get",
        [this](Request& r) { return list_tasks(state_, r, true); }, false);
    add(
        Method::get, "/batches/{uid}", "tasks.get",
        [this](Request& r) { return get_batch(state_, r); }, false);
    add(
        Method::post, "/tasks/cancel", "tasks.cancel",
        [this](Request& r) { return enqueue_cancel_or_delete(state_, r, true); }, false);
    add(
        Method::del, "/tasks", "tasks.delete",
        [this](Request& r) { return enqueue_cancel_or_delete(state_, r, false); }, false);
}

}  // namespace devnode
