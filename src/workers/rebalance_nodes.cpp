// The rebalancer's requests to nodes, and the indexes it moves: each created, with its
// primary key and settings, on the nodes that gain shards before any copy (see rebalance.cpp).
#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/http/params.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/node_client.hpp>

#include "rebalance.hpp"
#include "reshard.hpp"

namespace miroir::workers::rebalancing {

using namespace miroir::fleet;
using namespace miroir::scatter;
namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// A request that must be enqueued (202); its node task uid.
asio::awaitable<std::uint64_t> enqueue(Context& ctx, std::size_t slot,
                                       upstream::UpstreamRequest request) {
    unsigned status = 0;
    const auto target = request.target;
    const auto body = co_await call(ctx, slot, std::move(request), status);
    if (status != 202 || !body.is_object() || !body.contains("taskUid")) {
        throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) + "` refused " + target +
                                 " (" + std::to_string(status) + "): " + body.dump());
    }
    co_return body["taskUid"].get<std::uint64_t>();
}

// One request to one node; the answer's JSON body, or an exception naming the node.
asio::awaitable<json> call(Context& ctx, std::size_t slot, upstream::UpstreamRequest request,
                           unsigned& status) {
    const auto timeout = std::chrono::milliseconds(ctx.config.upstream.write_timeout_ms);
    auto result = co_await ctx.nodes[slot]->send(std::move(request), timeout);
    if (!result) {
        throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) +
                                 "` did not answer: " + result.error().message());
    }
    status = result->status;
    co_return json::parse(result->body, nullptr, false);
}

// The newest task of index `uid` that `slot` has not applied yet, if any.
asio::awaitable<std::optional<std::uint64_t>> pending_task(Context& ctx, std::size_t slot,
                                                           const std::string& uid) {
    const auto target =
        "/tasks?limit=1&statuses=enqueued,processing&indexUids=" + http::percent_encode(uid);
    unsigned status = 0;
    const auto page = co_await call(ctx, slot, node_request(Method::get, target), status);
    if (status != 200 || !page.is_object()) {
        throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) +
                                 "` did not list its tasks (" + std::to_string(status) + ")");
    }
    const auto results = page.value("results", json::array());
    if (results.empty() || !results[0].value("uid", json()).is_number_unsigned()) {
        co_return std::nullopt;
    }
    co_return results[0]["uid"].get<std::uint64_t>();
}

std::vector<std::size_t> slots_of(const Fleet& fleet, const std::vector<std::string>& ids) {
    std::vector<std::size_t> out;
    for (const auto& id : ids) out.push_back(*fleet.topology().slot(id));
    return out;
}

// The indexes of the fleet, with the primary key and settings of each, from the nodes that
// hold documents now.
asio::awaitable<std::vector<IndexToMove>> indexes_to_move(Context& ctx, const Fleet& fleet,
                                                          const Rebalance& r) {
    std::vector<std::size_t> holders;
    for (const auto& group : fleet.groups()) {
        for (auto n : group.nodes) holders.push_back(n);
    }
    for (auto n : slots_of(fleet, r.before)) holders.push_back(n);
    std::map<std::string, std::size_t> found;  // index uid → a node that has it
    for (auto n : holders) {
        if (!ctx.health.usable(n)) continue;
        unsigned status = 0;
        auto list =
            co_await call(ctx, n, node_request(Method::get, "/indexes?limit=100000"), status);
        if (status != 200 || !list.is_object()) continue;
        for (const auto& index : list.value("results", json::array())) {
            if (index.contains("uid") && index["uid"].is_string()) {
                found.emplace(index["uid"].get<std::string>(), n);
            }
        }
    }
    // the shadows of the reshards running: one no layout names is being made or deleted by its
    // reshard, and is not moved (a copy would make it again on the nodes that gain shards)
    std::set<std::string> shadows;
    const auto reshards = co_await ctx.store.records(resharding::kTable);
    for (const auto& [uid, text] : reshards) {
        const auto state = json::parse(text, nullptr, false);
        const auto status = state.is_object() ? state.value("status", std::string()) : "";
        if (status == "enqueued" || status == "processing") shadows.insert(shadow_name(uid));
    }
    std::vector<IndexToMove> out;
    for (const auto& [uid, n] : found) {
        if (shadows.contains(uid) && !fleet.topology().is_shadow(uid)) continue;
        IndexToMove index{uid, std::nullopt, json()};
        unsigned status = 0;
        const auto described =
            co_await call(ctx, n, node_request(Method::get, index_path(uid)), status);
        if (status == 200 && described.value("primaryKey", json()).is_string()) {
            index.primary_key = described["primaryKey"].get<std::string>();
        }
        index.settings =
            co_await call(ctx, n, node_request(Method::get, index_path(uid) + "/settings"), status);
        if (status != 200 || !index.settings.is_object()) {
            throw std::runtime_error("node `" + fleet.node_id(n) +
                                     "` did not give the settings of `" + uid + "`");
        }
        out.push_back(std::move(index));
    }
    co_return out;
}

// The experimental features the fleet has on, turned on for the nodes that gain shards first (a
// setting or a route that needs one works on them as on the others).
asio::awaitable<void> copy_features(Context& ctx, const std::vector<std::size_t>& gaining) {
    const auto fleet = ctx.fleet();
    json on = json::object();
    for (auto n : fleet->members()) {
        if (std::find(gaining.begin(), gaining.end(), n) != gaining.end()) continue;
        if (!ctx.health.usable(n)) continue;
        unsigned status = 0;
        const auto features =
            co_await call(ctx, n, node_request(Method::get, "/experimental-features"), status);
        if (status != 200 || !features.is_object()) continue;
        for (const auto& [name, value] : features.items()) {
            if (value == true) on[name] = true;
        }
        break;
    }
    if (on.empty()) co_return;
    const auto body = on.dump();
    for (auto n : gaining) {
        unsigned status = 0;
        co_await call(ctx, n, node_request(Method::patch, "/experimental-features", body), status);
    }
}

// Creates each index on the nodes that gain shards, with the source's primary key and
// settings (the copies enqueued next run after both), after the fleet's experimental features.
asio::awaitable<void> prepare(Context& ctx, const std::vector<std::size_t>& gaining,
                              const std::vector<IndexToMove>& indexes) {
    co_await copy_features(ctx, gaining);
    LeaseKeeper lease(ctx);
    for (const auto& index : indexes) {
        co_await lease.tick();
        json create;
        create["uid"] = index.uid;
        create["primaryKey"] = index.primary_key ? json(*index.primary_key) : json(nullptr);
        const auto create_body = create.dump();
        const auto settings_body = index.settings.dump();
        for (auto n : gaining) {
            unsigned status = 0;
            co_await call(ctx, n, node_request(Method::post, "/indexes", create_body), status);
            co_await enqueue(
                ctx, n,
                node_request(Method::patch, index_path(index.uid) + "/settings", settings_body));
        }
    }
}

}  // namespace miroir::workers::rebalancing
