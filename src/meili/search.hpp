// What the search routes share with federated multi-search (federation.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/http/message.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::fleet {
struct Context;
}  // namespace miroir::fleet

namespace miroir::meili {

using fleet::Context;

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
