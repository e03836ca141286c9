// The search service: a search scattered over a covering set of nodes and merged as one node
// holding every document would answer it (docs/search.md). The Meilisearch routes parse the
// client's request into a SearchWindow and a NodeSearch (how one node is asked) and call
// search(); the merge itself is merge::search_answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/http/message.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::scatter {

// What the merge needs to know of the client's query.
struct SearchWindow {
    bool page_mode = false;
    std::uint64_t offset = 0, limit = 20, page = 1, hits_per_page = 20;
    bool want_score = false, want_details = false;
    bool performance = false;  // `showPerformanceDetails`
    std::string q;
    std::optional<std::string> distinct;   // the `distinct` parameter
    std::vector<std::string> facets;       // the `facets` parameter
    std::optional<double> semantic_ratio;  // a hybrid or vector search
    // the attributes the client retrieves, when it names them without "*"
    std::optional<std::vector<std::string>> retrieve;
    // nodes below the request's settings-version floor
    std::vector<std::size_t> avoid;
    // when the answer is due (read_deadline)
    Deadline deadline = Deadline::max();
    // the filter as the nodes read it (tenant rules included): one that pins primary keys
    // narrows the search to their shards (routing::pinned_ids)
    nlohmann::ordered_json filter;
    // query explain with `execute`: each node request of the search appended as it was
    // answered ({node, group, shards, restricted, round, side, status, ms, hits})
    nlohmann::ordered_json* trace = nullptr;

    // The client names `_miroir_expires_at` among the attributes to retrieve: hits keep it.
    bool retrieves_expiry() const;
};

// What a search asks of the nodes beyond the client's query: an attribute to retrieve (the
// distinct attribute), a facet to count (the distinct attribute's values, for the total).
struct SearchExtras {
    std::optional<std::string> retrieve;
    std::optional<std::string> facet;
    // a hybrid search's keyword side (without `hybrid` and `vector`) or semantic side
    // (`semanticRatio` 1), each merged across nodes before the two are
    enum class Side { both, keyword, semantic } side = Side::both;
    // scores and ranking details, which only a merge of several nodes' hits needs
    bool scores = true;
    // the client's own window (offset, limit, page) rather than the first `depth` hits
    bool client_window = false;
};

// Builds one node's request for the shards it answers for, asking it for its first `depth`
// hits, and for what the merge needs beyond the client's query.
using NodeSearch = std::function<upstream::UpstreamRequest(const Assignment&, std::uint64_t depth,
                                                           const SearchExtras& extra)>;

// The client's answer, from one topology snapshot taken at its start: the covering set asked (one
// node holding every shard answers alone; a filter pinning primary keys asks only the owners of
// their shards), the hits merged, deduplicated and windowed, the totals and facets summed.
// `X-Miroir-Shards-Queried` says how many shards were asked.
boost::asio::awaitable<http::Response> search(Context& ctx, const std::string& uid,
                                              const SearchWindow& w, const NodeSearch& node_search);

// Every node of the plan asked at once, each with its own request (and other replicas for the
// shards of a node that does not answer).
boost::asio::awaitable<Gathered> ask_plan(Context& ctx, std::shared_ptr<const Fleet> fleet,
                                          Deadline deadline, const std::vector<Assignment>& plan,
                                          const NodeSearch& node_search, std::uint64_t depth = 0,
                                          SearchExtras extra = {},
                                          std::vector<std::size_t> avoid = {},
                                          Answers keep = Answers::parsed);

// `performanceDetails` of a merged answer (asked with `showPerformanceDetails`): Miroir's
// scatter (from `started` until every node answered, `gathered`) and merge (until now), then the
// steps of the slowest node; placed before `semanticHitCount`, as a node orders them.
void add_performance(nlohmann::ordered_json& out, const Fleet& fleet,
                     const std::vector<Assignment>& asked,
                     const std::vector<nlohmann::ordered_json>& answers,
                     std::chrono::steady_clock::time_point started,
                     std::chrono::steady_clock::time_point gathered);

// Whether index `uid` splits a query into words at its spaces alone: no stop words,
// separators, dictionary or synonym of several words (from the short cache of its settings).
boost::asio::awaitable<bool> reads_words_by_spaces(Context& ctx, const Fleet& fleet,
                                                   const std::string& uid);

// An index's faceting settings (from a short cache), read from nodes of the request's snapshot.
boost::asio::awaitable<nlohmann::ordered_json> faceting_settings(Context& ctx, const Fleet& fleet,
                                                                 const std::string& uid);

}  // namespace miroir::scatter
