// Document TTL in the request path (docs/operations.md, "Document TTL"): an index gets TTL
// when a policy is set for it or a document with `_miroir_expires_at` is written to it; its
// nodes then hold that field filterable, and every read of it ANDs the unexpired filter to the
// client's, so that a document disappears the moment it expires.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/fleet.hpp>

namespace miroir::http {
struct Request;
}  // namespace miroir::http

namespace miroir::fleet {
struct Context;
}  // namespace miroir::fleet

namespace miroir::meili {

using fleet::Context;

// Stores `policy` for index `uid` (which must exist; nothing: keeps the one stored, or the
// default). The first time, `_miroir_expires_at` is made filterable on the index's nodes (one
// settingsUpdate task, waited for) before reads filter by it. Throws the client's error when
// the nodes do not take it.
boost::asio::awaitable<void> set_ttl_policy(Context& ctx, const std::string& uid,
                                            std::optional<fleet::TtlPolicy> policy);

// Gives index `uid` TTL under the default policy unless it has a policy already (a write of
// documents with `_miroir_expires_at`).
boost::asio::awaitable<void> ensure_ttl(Context& ctx, const std::string& uid);

// Adds `_miroir_expires_at` to the filterable attributes of `uid` on every node as one
// settingsUpdate task; its uid, or nothing when the nodes had it already (settings.cpp).
boost::asio::awaitable<std::optional<std::uint64_t>> make_expiry_filterable(Context& ctx,
                                                                            const std::string& uid);

// Index `uid` was deleted: its policy goes with it.
boost::asio::awaitable<void> forget_ttl(Context& ctx, const std::string& uid);
// Indexes `a` and `b` were swapped (or `a` renamed `b`): their policies follow their documents.
boost::asio::awaitable<void> swap_ttl(Context& ctx, const std::string& a, const std::string& b);

// Seconds since the Unix epoch, now.
std::int64_t unix_now();

// A search or fetch body (an object) of index `uid` with, when the index has TTL in `t`, the
// unexpired filter ANDed to its filter (a filter of the wrong type is left for the nodes).
void hide_expired(const fleet::Topology& t, const std::string& uid, nlohmann::ordered_json& body);

// A query-string filter (GET search, GET documents) with that filter ANDed to it.
std::optional<std::string> hide_expired(const fleet::Topology& t, const std::string& uid,
                                        std::optional<std::string> filter);

// A GET search's query-string parameters with that filter ANDed to the client's.
void hide_expired_query(const Context& ctx, const std::string& uid,
                        std::vector<std::pair<std::string, std::string>>& params,
                        std::map<std::string, std::string>& by_name);

// The tenant token's rules and the unexpired filter applied to a read's body.
void apply_read_rules(const Context& ctx, const http::Request& r, const std::string& uid,
                      nlohmann::ordered_json& body);

// Whether document `doc` of an index with TTL in `t` has expired.
bool expired(const fleet::Topology& t, const std::string& uid, const nlohmann::ordered_json& doc);

}  // namespace miroir::meili
