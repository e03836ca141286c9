// Miroir tasks seen as Meilisearch tasks (internal to the api layer).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/tasks/store.hpp>

namespace miroir::fleet {
struct Context;
class Fleet;
}  // namespace miroir::fleet

namespace miroir::scatter {

using fleet::Context;
using fleet::Fleet;

// The Meilisearch task object of a Miroir task.
nlohmann::ordered_json task_view(const tasks::Task& task);

// By node slot of `fleet`, the uids of the node tasks of `ts` (of the unfinished ones only when
// `unfinished_only`), comma-separated as `?uids=` takes them.
std::map<std::size_t, std::string> node_task_uids(const Fleet& fleet,
                                                  const std::vector<tasks::Task>& ts,
                                                  bool unfinished_only);

// A task deletion (DELETE /tasks) runs as a node's does, after the tasks it matched: once every
// one of them has finished, they leave the store (their node tasks are deleted on the nodes)
// and the deletion succeeds; false while one still runs (or another pod is deleting them).
boost::asio::awaitable<bool> complete_deletion(Context& ctx, tasks::Task& task);

// Asks the nodes about the unfinished node tasks of `batch`, aggregates, stores what changed;
// runs the task deletions whose tasks have finished.
boost::asio::awaitable<void> refresh(Context& ctx, std::vector<tasks::Task>& batch);

// Miroir task `uid` once it finished (asked of the nodes while it waits, without waiting for
// the task poller); nothing when it has not finished within `limit`.
boost::asio::awaitable<std::optional<tasks::Task>> wait_finished(Context& ctx, std::uint64_t uid,
                                                                 std::chrono::milliseconds limit);

// Final counts of a finished task's details (indexedDocuments, deletedDocuments,
// editedDocuments), from the sums of the nodes' counts.
void finish_details(tasks::Task& task, std::int64_t node_deleted, std::int64_t node_edited = 0);

}  // namespace miroir::scatter
