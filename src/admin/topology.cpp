// The topology admin API: the nodes and groups with their health, adding, draining and
// removing nodes, adding and removing groups, and starting and following a rebalance.
#include <algorithm>

#include <nlohmann/json.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/workers/workers.hpp>

namespace miroir::admin {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using fleet::NodeRole;
using fleet::Topology;

json node_json(const fleet::Context& ctx, const fleet::Fleet& fleet, std::size_t slot) {
    const auto& n = fleet.node(slot);
    const auto h = ctx.health.get(slot);
    json node;
    node["id"] = n.id;
    node["address"] = n.address;
    node["group"] = n.group;
    node["role"] = fleet::to_string(n.role);
    node["state"] = n.role == NodeRole::removed ? "removed" : upstream::to_string(h.state);
    std::size_t shards = 0;
    for (const auto& group : fleet.groups()) {
        if (group.id == n.group) shards = group.placement.shards_of(n.id).size();
    }
    node["shards"] = shards;  // the shards it serves reads for
    node["failedProbes"] = h.failures;
    node["probeMs"] = h.probe_ms;
    node["checkedAt"] = h.checked_at ? json(h.checked_at) : json(nullptr);
    node["changedAt"] = h.changed_at ? json(h.changed_at) : json(nullptr);
    return node;
}

// The nodes with their roles and health, the groups, and whether every shard has a replica
// that is up.
asio::awaitable<http::Response> topology(fleet::Context& ctx) {
    const auto snapshot = ctx.fleet();
    const auto& fleet = *snapshot;
    const auto& t = fleet.topology();
    json nodes = json::array();
    for (std::size_t i = 0; i < fleet.size(); ++i) {
        if (fleet.node(i).role != NodeRole::removed) nodes.push_back(node_json(ctx, fleet, i));
    }
    json groups = json::array();
    std::vector<bool> anywhere(fleet.shards(), false);
    for (const int id : t.groups) {
        const auto readable = std::find_if(fleet.groups().begin(), fleet.groups().end(),
                                           [id](const fleet::Group& g) { return g.id == id; });
        bool complete = readable != fleet.groups().end();
        if (complete) {
            for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
                bool up = false;
                for (auto n : fleet.owners(*readable, s)) up = up || ctx.health.usable(n);
                complete = complete && up;
                if (up) anywhere[s] = true;
            }
        }
        json g;
        g["id"] = id;
        g["nodes"] = t.holding(id);
        g["target"] = t.target(id);
        g["readable"] = readable != fleet.groups().end();
        g["complete"] = complete;  // serves every shard on its own
        groups.push_back(std::move(g));
    }
    json uncovered = json::array();
    for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
        if (!anywhere[s]) uncovered.push_back(s);
    }
    json body;
    body["version"] = t.version;
    body["shards"] = fleet.shards();
    body["replicationFactor"] = t.replication_factor;
    body["nodes"] = std::move(nodes);
    body["groups"] = std::move(groups);
    body["unavailableShards"] = std::move(uncovered);
    body["rebalance"] = json::parse(workers::rebalance_status(fleet));
    co_return http::respond(200, body);
}

void refuse_while_rebalancing(const Topology& t) {
    if (t.rebalancing()) {
        throw http::error(409, "miroir_rebalance_in_progress",
                          "A rebalance is in progress (" + t.rebalance->phase +
                              "); change the topology once it is done.");
    }
    workers::refuse_while_filling(t);
}

fleet::NodeEntry& node_named(Topology& t, const std::string& id) {
    for (auto& n : t.nodes) {
        if (n.id == id && n.role != NodeRole::removed) return n;
    }
    throw http::error(404, "miroir_node_not_found", "Node `" + id + "` not found.");
}

// A node of a request body: `{"id", "address"}`, checked as the configuration checks them.
config::Node node_of(const json& value, const std::string& where) {
    if (!value.is_object()) throw http::bad_request("`" + where + "`: expected an object.");
    const auto id = value.value("id", json());
    const auto address = value.value("address", json());
    if (!id.is_string()) throw http::bad_request("`" + where + ".id`: expected a string.");
    if (!address.is_string()) {
        throw http::bad_request("`" + where + ".address`: expected a string.");
    }
    config::Node node;
    node.id = id.get<std::string>();
    node.address = address.get<std::string>();
    try {
        config::check_node(node, where);
    } catch (const config::ConfigError& e) {
        throw http::bad_request(std::string(e.what()) + ".");
    }
    return node;
}

// Adds `node` to `group` as joining: a new slot, or the slot of a removed node with the same
// id and address.
void add_node(Topology& t, const config::Node& node, int group) {
    for (auto& n : t.nodes) {
        if (n.id != node.id) continue;
        if (n.role != NodeRole::removed) {
            throw http::error(409, "miroir_node_exists", "Node `" + node.id + "` already exists.");
        }
        if (n.address != node.address) {
            throw http::error(409, "miroir_node_exists",
                              "Node `" + node.id + "` was removed with the address `" + n.address +
                                  "`; add it back with that address or another id.");
        }
        n.group = group;
        n.role = NodeRole::joining;
        return;
    }
    if (t.nodes.size() >= fleet::NodeClients::kMaxNodes) {
        throw http::error(409, "miroir_too_many_nodes",
                          "A topology holds at most " +
                              std::to_string(fleet::NodeClients::kMaxNodes) + " nodes.");
    }
    t.nodes.push_back({node.id, node.address, group, NodeRole::joining, node.host, node.port});
}

// POST /_miroir/nodes {"id", "address", "group"}: a joining node (a rebalance gives it shards).
asio::awaitable<http::Response> post_node(fleet::Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    auto node = node_of(body, "");
    const auto group_value = body.value("group", json(std::uint64_t{0}));
    if (!group_value.is_number_unsigned()) {
        throw http::bad_request("`.group`: expected a replica group id.");
    }
    const int group = group_value.get<int>();
    std::function<void(Topology&)> change = [&node, group](Topology& t) {
        refuse_while_rebalancing(t);
        if (std::find(t.groups.begin(), t.groups.end(), group) == t.groups.end()) {
            throw http::error(404, "miroir_group_not_found",
                              "Replica group " + std::to_string(group) + " not found.");
        }
        add_node(t, node, group);
    };
    const auto fleet = co_await fleet::change_topology(ctx, std::move(change));
    co_return http::respond(201, node_json(ctx, *fleet, *fleet->topology().slot(node.id)));
}

// POST /_miroir/nodes/{id}/drain: the node gives its shards away at the next rebalance.
asio::awaitable<http::Response> drain_node(fleet::Context& ctx, http::Request& r) {
    const std::string id(r.param("id"));
    std::function<void(Topology&)> change = [&id](Topology& t) {
        refuse_while_rebalancing(t);
        auto& n = node_named(t, id);
        if (n.role == NodeRole::joining) {
            n.role = NodeRole::removed;  // it holds nothing yet
            return;
        }
        n.role = NodeRole::draining;
        if (t.target(n.group).empty()) {
            throw http::error(409, "miroir_last_node",
                              "Node `" + id + "` is the last node of replica group " +
                                  std::to_string(n.group) +
                                  " to hold its shards; remove the group instead.");
        }
    };
    const auto fleet = co_await fleet::change_topology(ctx, std::move(change));
    co_return http::respond(200, node_json(ctx, *fleet, *fleet->topology().slot(id)));
}

// DELETE /_miroir/nodes/{id}: a node that holds nothing (joining, or drained by a rebalance).
asio::awaitable<http::Response> delete_node(fleet::Context& ctx, http::Request& r) {
    const std::string id(r.param("id"));
    std::function<void(Topology&)> change = [&id](Topology& t) {
        auto& n = node_named(t, id);
        if (n.role == NodeRole::active || n.role == NodeRole::draining) {
            throw http::error(409, "miroir_node_not_drained",
                              "Node `" + id + "` holds shards: drain it (POST /_miroir/nodes/" +
                                  id + "/drain) and rebalance before removing it.");
        }
        refuse_while_rebalancing(t);
        n.role = NodeRole::removed;
    };
    co_await fleet::change_topology(ctx, std::move(change));
    http::Response done;
    done.status = 204;
    co_return done;
}

// POST /_miroir/groups {"nodes": [{"id", "address"}]}: a new replica group, filled from the
// others by the next rebalance before it serves reads.
asio::awaitable<http::Response> post_group(fleet::Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    if (!body.is_object() || !body.contains("nodes") || !body["nodes"].is_array() ||
        body["nodes"].empty()) {
        throw http::bad_request(
            "Missing field `nodes`: the group's nodes, each `{\"id\", \"address\"}`.");
    }
    std::vector<config::Node> nodes;
    for (std::size_t i = 0; i < body["nodes"].size(); ++i) {
        nodes.push_back(node_of(body["nodes"][i], ".nodes[" + std::to_string(i) + "]"));
    }
    int created = 0;
    std::function<void(Topology&)> change = [&nodes, &created](Topology& t) {
        refuse_while_rebalancing(t);
        created = t.groups.empty() ? 0 : *std::max_element(t.groups.begin(), t.groups.end()) + 1;
        t.groups.push_back(created);
        for (const auto& n : nodes) add_node(t, n, created);
    };
    co_await fleet::change_topology(ctx, std::move(change));
    json out;
    out["id"] = created;
    out["nodes"] = json::array();
    for (const auto& n : nodes) out["nodes"].push_back(n.id);
    co_return http::respond(201, out);
}

// DELETE /_miroir/groups/{id}: the group leaves the read rotation and the topology at once.
asio::awaitable<http::Response> delete_group(fleet::Context& ctx, http::Request& r) {
    const std::string text(r.param("id"));
    int id = -1;
    try {
        std::size_t used = 0;
        id = std::stoi(text, &used);
        if (used != text.size()) id = -1;
    } catch (const std::exception&) {
    }
    std::function<void(Topology&)> change = [id, &text](Topology& t) {
        if (std::find(t.groups.begin(), t.groups.end(), id) == t.groups.end()) {
            throw http::error(404, "miroir_group_not_found",
                              "Replica group " + text + " not found.");
        }
        refuse_while_rebalancing(t);  // a rebalance may be copying from it
        bool other = false;
        for (int g : t.groups) other = other || (g != id && !t.holding(g).empty());
        if (!other) {
            throw http::error(409, "miroir_last_group",
                              "Replica group " + text +
                                  " is the only one holding the documents; it cannot be removed.");
        }
        std::erase(t.groups, id);
        for (auto& n : t.nodes) {
            if (n.group == id) n.role = NodeRole::removed;
        }
    };
    co_await fleet::change_topology(ctx, std::move(change));
    http::Response done;
    done.status = 204;
    co_return done;
}

// POST /_miroir/rebalance: starts moving shards for the first unbalanced group (the others
// follow); 202 with the status, or 200 when every group is balanced.
asio::awaitable<http::Response> post_rebalance(fleet::Context& ctx) {
    const bool started = co_await workers::start_rebalance(ctx);
    co_return http::Response::json(started ? 202 : 200, workers::rebalance_status(*ctx.fleet()));
}

asio::awaitable<http::Response> rebalance_status(fleet::Context& ctx) {
    co_return http::Response::json(200, workers::rebalance_status(*ctx.fleet()));
}

}  // namespace

void add_topology_routes(http::Router& router, fleet::Context& ctx) {
    using http::Access;
    using http::Method;
    router.add(Method::get, "/_miroir/topology", Access::admin,
               [&ctx](http::Request&) { return topology(ctx); });
    router.add(Method::post, "/_miroir/nodes", Access::admin,
               [&ctx](http::Request& r) { return post_node(ctx, r); });
    router.add(Method::post, "/_miroir/nodes/{id}/drain", Access::admin,
               [&ctx](http::Request& r) { return drain_node(ctx, r); });
    router.add(Method::del, "/_miroir/nodes/{id}", Access::admin,
               [&ctx](http::Request& r) { return delete_node(ctx, r); });
    router.add(Method::post, "/_miroir/groups", Access::admin,
               [&ctx](http::Request& r) { return post_group(ctx, r); });
    router.add(Method::del, "/_miroir/groups/{id}", Access::admin,
               [&ctx](http::Request& r) { return delete_group(ctx, r); });
    router.add(Method::post, "/_miroir/rebalance", Access::admin,
               [&ctx](http::Request&) { return post_rebalance(ctx); });
    router.add(Method::get, "/_miroir/rebalance/status", Access::admin,
               [&ctx](http::Request&) { return rebalance_status(ctx); });
}

}  // namespace miroir::admin
