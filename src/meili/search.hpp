// What the search routes share with federated multi-search (federation.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/http/message.hpp>
#include <miroir/http/tenant_token.hpp>
#include <miroir/meili/ttl.hpp>
#include <miroir/scatter/search.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::http {
class Router;
}  // namespace miroir::http

namespace miroir::fleet {
struct Context;
}  // namespace miroir::fleet

namespace miroir::meili {

using fleet::Context;

// A body's unsigned number `key`, or `fallback`.
std::uint64_t uint_or(const nlohmann::ordered_json& body, const char* key, std::uint64_t fallback);
// Whether a body's `key` is `true`.
bool flag(const nlohmann::ordered_json& body, const char* key);
// A node's `attributesToRetrieve` with the hits' places (which order ties as one node does)
// when the client's list does not name every attribute; a value of the wrong type is left for
// the nodes to reject.
void retrieve_place(nlohmann::ordered_json& body);

// Whether a `matchingStrategy: frequency` search of `q` drops its words as `last` does over the
// whole of index `uid`, `scope` holding the client's `attributesToSearchOn` and `locales`
// (frequency.cpp).
boost::asio::awaitable<bool> frequency_drops_as_last(Context& ctx, const std::string& uid,
                                                     const std::string& q,
                                                     const nlohmann::ordered_json& scope);

// A GET search's parameters with `matchingStrategy=frequency` made `last` when
// frequency_drops_as_last.
boost::asio::awaitable<void> frequency_params_as_last(
    Context& ctx, const std::string& uid, const std::map<std::string, std::string>& by_name,
    std::vector<std::pair<std::string, std::string>>& params);

// POST and GET /indexes/{uid}/similar (similar.cpp).
void add_similar_routes(http::Router& router, Context& ctx);

// What the merge needs of a search body (POST search, a query of a multi-search, explain).
scatter::SearchWindow window_of(Context& ctx, const nlohmann::ordered_json& body);

// How one node is asked the search `body` of index `uid` (`uid` and `body` must outlive it):
// its first hits, scored, for the shards it answers for.
scatter::NodeSearch node_search_of(const std::string& uid, const nlohmann::ordered_json& body,
                                   bool page_mode);

// A tenant token's filter for the index ANDed into a search (http/tenant_token.hpp).
using http::apply_tenant_query;
using http::apply_tenant_rules;

// The index uid of query `position` of a multi-search; throws Meilisearch's errors, prefixed
// with the query's position.
std::string query_index_uid(const nlohmann::ordered_json& query, std::size_t position);

// Searches run concurrently through the fleet, each (index uid, search body) scattered and
// merged on its own; answers in order, as a single search route would give them. With
// `request`, its X-Miroir-Min-Settings-Version floor applies to every query.
boost::asio::awaitable<std::vector<upstream::UpstreamResult>> run_queries(
    Context& ctx, std::vector<std::pair<std::string, nlohmann::ordered_json>> queries,
    const http::Request* request = nullptr);

// A query's failed answer as multi-search reports it: its message prefixed with its position,
// index_not_found as 400.
http::Response query_error(std::size_t position, const upstream::UpstreamResponse& answer);

// POST /multi-search with `federation`.
boost::asio::awaitable<http::Response> federated_search(Context& ctx,
                                                        const nlohmann::ordered_json& body);

// A search of `name` when it is an alias of several indexes: a federated search over them
// (the window and facets moved to the federation), answered in the shape of one index's
// search; nullopt when `name` is no such alias (aliases.cpp).
boost::asio::awaitable<std::optional<http::Response>> search_alias(
    Context& ctx, const std::string& name, const nlohmann::ordered_json& body);

}  // namespace miroir::meili
