// Hints: what a node missed of an acknowledged write, kept in the task store until the node
// has it (docs/writes.md, "Writes a node missed"). A write is acknowledged once its quorum is
// reached; each owner that did not take its part gets a hint, stored before the answer: the
// documents it missed (by id, or those a deletion filter selects, or every one of its shards
// for a clear) and the owners that took the write, with their node tasks. The replay
// (workers/hints.cpp) later makes those documents on the node as they are on the owners that
// took the write.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace miroir::scatter {

// The task store table of the hints; a key sorts a node's hints in the order they were made.
inline const std::string kHintTable = "hints";

struct Hint {
    std::string key;    // node, then time: hint_key
    std::string node;   // the node that missed the write
    std::string index;  // the index uid
    // what it missed: documents by id (canonical ids), or a deletion by `filter`, or, with
    // `all`, every document of `shards`
    std::vector<std::string> ids;
    std::optional<nlohmann::ordered_json> filter;
    bool all = false;
    std::vector<std::uint32_t> shards;  // the shards of what it missed
    std::optional<std::string> primary_key;
    // the owners that took the write, each with its node task
    std::vector<std::pair<std::string, std::uint64_t>> sources;
    std::int64_t at = 0;  // ns since the epoch
};

// `node`'s key for a hint made at `at`: its hints sort in the order they were made.
std::string hint_key(const std::string& node, std::int64_t at, std::uint64_t sequence);

std::string encode(const Hint& hint);
// nullopt for a record that is no hint.
std::optional<Hint> decode_hint(const std::string& key, const std::string& text);

}  // namespace miroir::scatter
