// How a search is asked, decided before any node is (scatter/search.cpp runs it, explain.cpp
// describes it): one topology snapshot, its covering set, the index settings the merge needs,
// the primary-key planner's narrowing, how deep each node is asked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/merge/search.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/search.hpp>

namespace miroir::scatter {

// What the merge (and explain) needs of an index's settings.
struct MergeSettings {
    nlohmann::ordered_json faceting = nlohmann::ordered_json::object();
    std::optional<std::string> distinct;  // the distinctAttribute setting
    nlohmann::ordered_json filterable = nlohmann::ordered_json::array();
    nlohmann::ordered_json sortable = nlohmann::ordered_json::array();
    std::uint64_t max_total_hits = 1000;  // pagination.maxTotalHits
    std::string primary_key;              // full ties are ordered by it
    // stop words, separators, a dictionary or a synonym of several words: the index reads a
    // query's words otherwise than by its spaces
    bool own_words = false;

    // Whether the nodes filter on `field`, and count its values in facet distributions.
    bool facetable(const std::string& field) const;
    // Whether the nodes sort on `field`.
    bool sortable_by(const std::string& field) const;
};

// A search's plan. `nodes` is the covering set; when `whole`, one node holds every shard and
// answers alone with the client's own window (nothing else below is needed).
struct SearchPlan {
    fleet::Snapshot fleet;
    std::vector<Assignment> nodes;
    bool whole = false;
    MergeSettings settings;
    std::size_t shards_asked = 0;
    std::optional<std::vector<std::string>> pinned;  // the ids the filter pins
    SearchExtras extra;
    merge::SearchAsk ask;
    std::uint64_t depth = 0;  // the hits each node is asked for
    bool hybrid = false;      // both sides of a hybrid search asked and merged apart
};

// The snapshot and its covering set (groups in turn, replicas as `replica_selection` says);
// 503 when every covering set needs a node below the request's settings-version floor.
SearchPlan first_plan(Context& ctx, const std::string& uid, const SearchWindow& w);

// The rest of the plan: the settings (cached for a second), the planner's narrowing, what the
// merge asks of the nodes.
boost::asio::awaitable<void> complete_plan(Context& ctx, const std::string& uid,
                                           const SearchWindow& w, SearchPlan& plan);

}  // namespace miroir::scatter
