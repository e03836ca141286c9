// A batch as GET /batches shows it, for a batch that holds one task: Miroir and the
// development node each run every task as a batch of its own.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace miroir::http {

// Batch `uid` of the one task `task` (the task as GET /tasks shows it).
inline nlohmann::ordered_json single_task_batch(std::uint64_t uid,
                                                const nlohmann::ordered_json& task) {
    using json = nlohmann::ordered_json;
    const auto type = task.value("type", std::string());
    json b;
    b["uid"] = uid;
    b["progress"] = nullptr;
    b["details"] = task.value("details", json::object());
    json stats;
    stats["totalNbTasks"] = 1;
    stats["status"][task.value("status", std::string())] = 1;
    stats["types"][type] = 1;
    stats["indexUids"] = json::object();
    if (task.value("indexUid", json()).is_string()) {
        stats["indexUids"][task["indexUid"].get<std::string>()] = 1;
    }
    // the steps of a batch of one task's own work: none reported
    stats["progressTrace"] = json::object();
    b["stats"] = std::move(stats);
    b["duration"] = task.value("duration", json());
    b["startedAt"] = task.value("startedAt", json());
    b["finishedAt"] = task.value("finishedAt", json());
    b["batchStrategy"] = "created batch containing only task with id " +
                         task.value("uid", json(0)).dump() + " of type `" + type +
                         "` that cannot be batched with any other task.";
    return b;
}

}  // namespace miroir::http
