// Task records as JSON (how both stores keep them) and the GET /tasks filter in C++ (for the
// store that cannot filter in a query language).
#pragma once

#include <nlohmann/json.hpp>

#include <miroir/tasks/store.hpp>

namespace miroir::tasks {

nlohmann::json to_json(const Task& t);
Task from_json(const nlohmann::json& j);
bool matches(const TaskFilter& f, const Task& t);

}  // namespace miroir::tasks
