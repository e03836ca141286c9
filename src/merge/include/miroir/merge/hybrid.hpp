// Hybrid search as one node holding every document runs it (milli's hybrid.rs): a keyword
// search and a semantic search, each over the whole index, then merged. Miroir asks the nodes
// for each side on its own and merges each side across nodes first (merge/order.hpp); these
// functions take the two merged orders. Pure, no I/O.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace miroir::merge {

// Hits as (list, position) pairs into several nodes' hit lists.
using Order = std::vector<std::pair<std::size_t, std::size_t>>;

// Whether the keyword side answers alone: it filled the window (`depth` hits) and each of
// those weighs at least 0.45 once its ranking score is weighted by 1 - `ratio`; Meilisearch
// then skips the semantic search (`results_good_enough`).
bool keyword_good_enough(const std::vector<const nlohmann::ordered_json*>& lists,
                         const Order& keyword, std::uint64_t depth, double ratio);

// The semantic and keyword orders merged as milli merges them: each side's head weighted
// (similarity × ratio, ranking score × (1 - ratio), in single precision as Meilisearch
// computes the ratios); the semantic head first unless the keyword head weighs more, or the
// same and still has sort values to compare; a document met again (same `id_field` value) is
// left out.
Order merge_hybrid(const std::vector<const nlohmann::ordered_json*>& lists, const Order& semantic,
                   const Order& keyword, double ratio, std::string_view id_field);

}  // namespace miroir::merge
