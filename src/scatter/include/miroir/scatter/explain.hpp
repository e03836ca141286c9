// Query explain (docs/search.md, "Explain"): how a search would be asked — the snapshot's
// topology version, the groups and their readiness, each node asked with its shards, the
// primary-key planner's narrowing, how deep each node is asked, the settings version — and
// what in the query deserves a warning; with `execute`, the search run too, timed per node.
#pragma once

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/scatter/search.hpp>

namespace miroir::scatter {

// What explain reads of the query beyond the search window.
struct ExplainQuery {
    std::vector<std::string> sort;  // the `sort` rules, as the client wrote them
    bool execute = false;           // run the search too
};

// The plan of the search `w` of index `uid` (as scatter::search would ask it), as JSON; with
// `q.execute`, also its answer under "execution" with every node request's status and time.
boost::asio::awaitable<nlohmann::ordered_json> explain(Context& ctx, const std::string& uid,
                                                       SearchWindow w,
                                                       const NodeSearch& node_search,
                                                       ExplainQuery q);

}  // namespace miroir::scatter
