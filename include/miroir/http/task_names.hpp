// The task statuses and types Meilisearch accepts in task filters, in its own order (the
// order its error messages list them in).
#pragma once

#include <string>
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
                                                    "networkTopologyChange"};

}  // namespace miroir::http
