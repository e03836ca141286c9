// What federated search shares with the /network routes (network.cpp): the instance's network
// record and the nodes' `network` feature (and any experimental feature's check).
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

namespace miroir::fleet {
struct Context;
}  // namespace miroir::fleet

namespace miroir::meili {

// Throws Meilisearch's feature_not_enabled for `action` unless the nodes have the experimental
// feature `key` on (the first node that answers says); the message names the feature as
// `name` and links `link`, as a node words it.
boost::asio::awaitable<void> require_feature(fleet::Context& ctx, const std::string& key,
                                             const std::string& action, const std::string& name,
                                             const std::string& link);

// require_feature for the `network` feature.
boost::asio::awaitable<void> require_network_feature(fleet::Context& ctx,
                                                     const std::string& action);

// The instance's network record (`self`, `remotes`, ...) as GET /network shows it.
boost::asio::awaitable<nlohmann::ordered_json> network_record(fleet::Context& ctx);

}  // namespace miroir::meili
