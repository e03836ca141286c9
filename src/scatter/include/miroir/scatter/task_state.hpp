// Miroir tasks seen as Meilisearch tasks (internal to the api layer).
#pragma once

#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/tasks/store.hpp>

namespace miroir::fleet {
struct Context;
}  // namespace miroir::fleet

namespace miroir::scatter {

using fleet::Context;

// The Meilisearch task object of a Miroir task.
nlohmann::ordered_json task_view(const tasks::Task& task);

// Asks the nodes about the unfinished node tasks of `batch`, aggregates, stores what changed.
boost::asio::awaitable<void> refresh(Context& ctx, std::vector<tasks::Task>& batch);

// Final counts of a finished task's details (indexedDocuments, deletedDocuments), from the sum
// of the nodes' deleted documents.
void finish_details(tasks::Task& task, std::int64_t node_deleted);

}  // namespace miroir::scatter
