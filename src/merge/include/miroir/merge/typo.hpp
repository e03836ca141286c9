// The typo rule as one node holding every document would score it. A node computes a query
// term's largest typo cost from its own dictionary (`max_typo_cost` in milli's query_term:
// 0, 1 or 2 by whether the term's one- and two-typo derivations exist among the node's words),
// so the same document gets another `maxTypoCount`, typo `score` and `_rankingScore` on
// another node. The whole index's dictionary is the union of the nodes': its maximum is the
// largest any node reports. Pure, no I/O.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

namespace miroir::merge {

// Rewrites the hits of several nodes' answers (each list a search answer's `hits`, hits with
// `_rankingScoreDetails`) to the typo maximum of the whole index: per number of matching
// words (the typo graph holds the query words the `words` rule left), the largest
// `maxTypoCount` of any hit; each hit below it gets that maximum, its typo score
// (max + 1 - typos) / (max + 1), and its `_rankingScore` recomputed with Meilisearch's
// formula. The score is recomputed only when the rules before `typo` are `words` alone (the
// default order); otherwise the details change and the score stays the node's.
void normalize_typo(const std::vector<nlohmann::ordered_json*>& lists);

// Meilisearch's global score of a rule sequence from the ranking score of its tail: a rule of
// rank r out of m followed by rules scoring `rest` scores (r - 1) / m + rest / m.
double fold_rank(double rank, double max_rank, double rest);

}  // namespace miroir::merge
