// Miroir's own fields taken out of a node's search answer without building a document tree:
// the answer's bytes are walked once (simdjson On-Demand) and only the members to drop are
// cut, so an answer that one node gives whole (it holds every shard) goes back to the client
// as that node wrote it. Pure, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace miroir::merge {

// `answer` (a search response) without the members whose name starts with `prefix` (but for
// `keep`, when given) in each hit, each hit's `_formatted`, `facetDistribution` and
// `facetStats`; every other byte as it was. nullopt when `answer` is not a JSON object.
std::optional<std::string> scrub_search_answer(std::string answer, std::string_view prefix,
                                               std::string_view keep = {});

// A node's error message without the names that start with `prefix`: Meilisearch lists the
// attributes a query may use inside backquotes (`a, b` or `a`, `b`); the reserved ones are
// taken out of each list, and a list left empty becomes the sentence a node without such
// attributes writes ("This index does not have configured filterable attributes.").
std::string scrub_error_message(std::string message, std::string_view prefix);

}  // namespace miroir::merge
