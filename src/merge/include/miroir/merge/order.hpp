// The order of search hits from several nodes, as one node holding every document would rank
// them. Built from each hit's `_rankingScoreDetails`: the rules are walked in their `order`,
// comparing what one node buckets on (matching words, typo counts, exactness match types,
// scores of rules whose maximum depends only on the query and the settings, sort values with
// Meilisearch's value order, vector similarity). Hits that agree on every rule are a complete
// tie, whatever their `_rankingScore` (node-relative); only hits ranked by different rules, or
// without details, are ordered by `_rankingScore`. Pure, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <miroir/routing/shard_field.hpp>

namespace miroir::merge {

// One comparable step of a hit's ranking.
struct Step {
    enum class Kind {
        more,    // a count or score: larger ranks first
        fewer,   // a count: smaller ranks first (typos)
        value,   // a sort rule's value
        nearer,  // a geo sort distance (missing last)
    };
    Kind kind = Kind::more;
    double number = 0;
    // value steps: 0 number, 1 string, 2 null or missing (always last); direction
    int value_class = 2;
    std::string text;
    bool asc = true;
    bool missing = false;  // nearer steps: no distance
};

struct RankKey {
    std::vector<Step> steps;
    double score = 0;  // _rankingScore
};

// The key of a hit (a search hit object with `_rankingScoreDetails` and `_rankingScore`).
RankKey rank_key(const nlohmann::ordered_json& hit);

// Negative when `a` ranks before `b`, 0 when one node could order them either way.
int compare(const RankKey& a, const RankKey& b);

// A document's place in its index's insertion order (its `_miroir_ord`), when it has one.
std::optional<routing::Ord> place_of(const nlohmann::ordered_json& doc);
// Two places: negative when `a` was added first; 0 when either is missing. Sorts read each
// document's place once (place_of) and compare those.
int compare_places(const std::optional<routing::Ord>& a, const std::optional<routing::Ord>& b);
int compare_places(const nlohmann::ordered_json& a, const nlohmann::ordered_json& b);

// The first `take` hits of several hit lists, each already in rank order (a node's answer
// is), as (list, position) pairs: a k-way merge that computes keys only for the hits that
// reach the front. Full ties are ordered as one node orders them, by insertion (the hits'
// places), then by the hits' `tie_field` (the primary key: numbers by value before strings,
// the order one node gives documents added in that order), which keeps a page's content
// independent of how the shards are placed; hits with neither keep list order, then position. A
// hybrid search merges its two sides with merge/hybrid.hpp.
std::vector<std::pair<std::size_t, std::size_t>> merge_ordered(
    const std::vector<const nlohmann::ordered_json*>& lists, std::size_t take,
    std::string_view tie_field = {});

}  // namespace miroir::merge
