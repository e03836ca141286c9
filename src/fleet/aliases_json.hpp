// The named entries of the stored topology, aliases, TTL policies, rolling index families
// and index layouts,
// as JSON (fleet.cpp's parse and dump).
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include <miroir/fleet/fleet.hpp>

namespace miroir::fleet {

using Aliases = std::map<std::string, Alias, std::less<>>;

// Throws nlohmann::json::exception on a malformed entry.
Aliases aliases_from_json(const nlohmann::ordered_json& j);
nlohmann::ordered_json aliases_to_json(const Aliases& aliases);

using TtlPolicies = std::map<std::string, TtlPolicy, std::less<>>;

// {"<uid>": {"defaultTtlS", "sweepIntervalS", "maxDeletesPerSweep", "enabled"}}
TtlPolicies ttl_from_json(const nlohmann::ordered_json& j);
nlohmann::ordered_json ttl_to_json(const TtlPolicies& policies);

using IlmPolicies = std::map<std::string, IlmPolicy, std::less<>>;

// {"<name>": {"writeAlias", "readAlias", "pattern", "primaryKey", "maxDocuments", "maxAgeS",
// "retain", "checkIntervalS", "generation", "rolledAt", "indexes"}}
IlmPolicies ilm_from_json(const nlohmann::ordered_json& j);
nlohmann::ordered_json ilm_to_json(const IlmPolicies& policies);

using Layouts = std::map<std::string, IndexLayout, std::less<>>;

// {"<uid>": {"shards", "shadow", "shadowShards", "phase"}}
Layouts layouts_from_json(const nlohmann::ordered_json& j);
nlohmann::ordered_json layouts_to_json(const Layouts& layouts);

}  // namespace miroir::fleet
