// The task statuses and types Meilisearch accepts in task filters, in its own order (the
// order its error messages list them in), and the filter parameters of the task routes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace miroir::http {

inline const std::vector<std::string> kTaskStatuses = {"enqueued", "processing", "succeeded",
                                                       "failed", "canceled"};

inline const std::vector<std::string> kTaskTypes = {"documentAdditionOrUpdate",
                                                    "documentEdition",
                                                    "documentDeletion",
                                                    "settingsUpdate",
                                                    "indexCreation",
                                                    "indexDeletion",
                                                    "indexUpdate",
                                                    "indexSwap",
                                                    "taskCancelation",
                                                    "taskDeletion",
                                                    "dumpCreation",
                                                    "snapshotCreation",
                                                    "export",
                                                    "upgradeDatabase",
                                                    "indexCompaction",
                                                    "networkTopologyChange",
                                                    "dsrUpdate",
                                                    "dsrClear"};

// The filters of GET /tasks (which adds limit, from, reverse), POST /tasks/cancel and
// DELETE /tasks.
inline const std::vector<std::string_view> kTaskFilterParams = {"uids",
                                                                "batchUids",
                                                                "canceledBy",
                                                                "types",
                                                                "statuses",
                                                                "indexUids",
                                                                "beforeEnqueuedAt",
                                                                "afterEnqueuedAt",
                                                                "beforeStartedAt",
                                                                "afterStartedAt",
                                                                "beforeFinishedAt",
                                                                "afterFinishedAt"};

}  // namespace miroir::http
