// Task record codec and filter.
#include "record.hpp"

#include <algorithm>

#include <miroir/util/patterns.hpp>

namespace miroir::tasks {

using json = nlohmann::json;

nlohmann::json to_json(const Task& t) {
    json nodes = json::array();
    for (const auto& n : t.node_tasks) {
        nodes.push_back({{"node", n.node},
                         {"uid", n.uid},
                         {"status", n.status},
                         {"error", n.error},
                         {"deleted", n.deleted_documents},
                         {"started", n.started_at},
                         {"finished", n.finished_at},
                         {"edited", n.edited_documents},
                         {"details", n.details}});
    }
    json j = {{"uid", t.uid},
              {"index", t.index_uid},
              {"type", t.type},
              {"status", t.status},
              {"details", t.details},
              {"error", t.error},
              {"enqueued", t.enqueued_at},
              {"started", t.started_at},
              {"finished", t.finished_at},
              {"copies", t.copies},
              {"planned", t.planned},
              {"nodes", std::move(nodes)}};
    if (t.canceled_by) j["canceledBy"] = *t.canceled_by;
    if (t.cancel_requested_by) j["cancelRequestedBy"] = *t.cancel_requested_by;
    if (t.custom_metadata) j["customMetadata"] = *t.custom_metadata;
    if (!t.targets.empty()) j["targets"] = t.targets;
    return j;
}

Task from_json(const nlohmann::json& j) {
    Task t;
    t.uid = j.at("uid").get<std::uint64_t>();
    t.index_uid = j.at("index").get<std::string>();
    t.type = j.at("type").get<std::string>();
    t.status = j.at("status").get<std::string>();
    t.details = j.at("details").get<std::string>();
    t.error = j.at("error").get<std::string>();
    t.enqueued_at = j.at("enqueued").get<std::int64_t>();
    t.started_at = j.at("started").get<std::int64_t>();
    t.finished_at = j.at("finished").get<std::int64_t>();
    t.copies = j.at("copies").get<std::uint32_t>();
    t.planned = j.value("planned", std::uint64_t{0});
    if (j.contains("cancelRequestedBy")) {
        t.cancel_requested_by = j.at("cancelRequestedBy").get<std::uint64_t>();
    }
    if (j.contains("canceledBy")) t.canceled_by = j.at("canceledBy").get<std::uint64_t>();
    if (j.contains("customMetadata")) {
        t.custom_metadata = j.at("customMetadata").get<std::string>();
    }
    if (j.contains("targets")) t.targets = j.at("targets").get<std::vector<std::uint64_t>>();
    for (const auto& n : j.at("nodes")) {
        t.node_tasks.push_back(
            {n.at("node").get<std::string>(), n.at("uid").get<std::uint64_t>(),
             n.at("status").get<std::string>(), n.at("error").get<std::string>(),
             n.at("deleted").get<std::int64_t>(), n.at("started").get<std::int64_t>(),
             n.at("finished").get<std::int64_t>(), n.value("edited", std::int64_t{0}),
             n.value("details", std::string())});
    }
    return t;
}

namespace {

template <typename T>
bool in(const std::vector<T>& values, const T& v) {
    return values.empty() || std::find(values.begin(), values.end(), v) != values.end();
}

bool between(std::int64_t at, const std::optional<std::int64_t>& before,
             const std::optional<std::int64_t>& after) {
    if (!before && !after) return true;
    if (at == 0) return false;
    return (!before || at < *before) && (!after || at > *after);
}

}  // namespace

bool matches(const TaskFilter& f, const Task& t) {
    if (!in(f.uids, t.uid) || !in(f.statuses, t.status) || !in(f.types, t.type)) return false;
    if (f.started && t.started_at == 0) return false;
    if (!f.index_uids.empty() && (t.index_uid.empty() || !in(f.index_uids, t.index_uid))) {
        return false;
    }
    if (f.index_patterns && !util::index_allows(*f.index_patterns, t.index_uid)) return false;
    if (!f.canceled_by.empty() && (!t.canceled_by || !in(f.canceled_by, *t.canceled_by))) {
        return false;
    }
    return between(t.enqueued_at, f.before_enqueued_at, f.after_enqueued_at) &&
           between(t.started_at, f.before_started_at, f.after_started_at) &&
           between(t.finished_at, f.before_finished_at, f.after_finished_at);
}

}  // namespace miroir::tasks
