// What federated search shares with the /network routes (network.cpp): the instance's network
// record and the nodes' `network` feature.
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

namespace miroir::fleet {
struct Context;
}  // namespace miroir::fleet

namespace miroir::meili {

// Throws Meilisearch's feature_not_enabled for `action` unless the nodes have the `network`
// experimental feature on (the first node that answers says).
boost::asio::awaitable<void> require_network_feature(fleet::Context& ctx,
                                                     const std::string& action);

// The instance's network record (`self`, `remotes`, ...) as GET /network shows it.
boost::asio::awaitable<nlohmann::ordered_json> network_record(fleet::Context& ctx);

}  // namespace miroir::meili
