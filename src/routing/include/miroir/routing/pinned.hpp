// The primary-key planner: the document ids a search filter pins, so that the search asks only
// the owners of their shards. Pure, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace miroir::routing {

// The ids of `primary_key = v` or `primary_key IN [v, ...]` in a conjunction at the top of
// `filter` (Meilisearch's string form, or its array form: elements ANDed, an inner array ORed);
// nullopt when no such condition binds every hit, or when Miroir cannot be sure (an OR or NOT
// around it, a value that is not a plain document id): then every shard is asked.
std::optional<std::vector<std::string>> pinned_ids(const nlohmann::ordered_json& filter,
                                                   std::string_view primary_key);

// The attributes the conditions of `filter` test (either form), each once, in order of
// appearance; what does not tokenize adds none (query explain's warnings).
std::vector<std::string> filter_attributes(const nlohmann::ordered_json& filter);

}  // namespace miroir::routing
