// Placement routes. GET /_miroir/shards: each shard's owners. POST /_miroir/rebalance/plan: what
// a new node list would move. GET /_miroir/verify: whether every shard of every index is where
// the placement puts it.
// Each node is asked what it holds of an index — every document's primary key and shard,
// paged (or, with ids=false, a count per shard) — and the answers are compared shard by shard
// within each replica group: every owner holds the shard, the owners agree on its documents,
// no node holds documents of a shard it does not own.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/upstream/gather.hpp>

namespace miroir::admin {

namespace {

using scatter::index_path;
using scatter::node_request;

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

constexpr std::uint64_t kPage = 1000;  // documents per fetch when listing ids
constexpr std::size_t kListed = 10;    // ids named per node in a problem

// What one node holds of one index.
struct Holding {
    bool answered = false;   // the node answered every request
    unsigned refused = 0;    // else the status it refused one with (0: no answer at all)
    bool has_index = false;  // it has the index
    std::map<std::uint32_t, std::set<std::string>> ids;  // by shard (ids mode)
    std::map<std::uint32_t, std::uint64_t> counts;       // by shard
    std::uint64_t unsharded = 0;  // documents without a shard (written behind Miroir's back)
};

asio::awaitable<std::optional<json>> ask(fleet::Context& ctx, std::size_t node,
                                         upstream::UpstreamRequest request, unsigned& status) {
    const auto timeout = std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms);
    auto result = co_await ctx.nodes[node]->send(std::move(request), timeout);
    status = result ? result->status : 0;
    if (!result || result->status != 200) co_return std::nullopt;
    auto body = json::parse(result->body, nullptr, false);
    if (body.is_discarded()) co_return std::nullopt;
    co_return body;
}

// A document id as Meilisearch compares them: a number in decimal, a string as it is.
std::string id_text(const json& id) { return id.is_string() ? id.get<std::string>() : id.dump(); }

// The total of a documents fetch with `filter` (null: every document).
asio::awaitable<std::optional<std::uint64_t>> count(fleet::Context& ctx, std::size_t node,
                                                    std::string uid, json filter,
                                                    unsigned& status) {
    json body;
    body["limit"] = 0;
    if (!filter.is_null()) body["filter"] = std::move(filter);
    // named, not a temporary inside the co_await expression (GCC 12)
    auto request =
        node_request(http::Method::post, index_path(uid) + "/documents/fetch", body.dump());
    auto page = co_await ask(ctx, node, std::move(request), status);
    if (!page || !page->contains("total")) co_return std::nullopt;
    co_return page->value("total", std::uint64_t{0});
}

asio::awaitable<Holding> holding(fleet::Context& ctx, std::uint32_t shards, std::size_t node,
                                 std::string uid, std::optional<std::string> pk, bool with_ids) {
    Holding out;
    unsigned status = 0;
    const std::string field(routing::kShardField);
    if (with_ids && pk) {
        for (std::uint64_t offset = 0;; offset += kPage) {
            json body;
            body["fields"] = json::array({*pk, field});
            body["limit"] = kPage;
            body["offset"] = offset;
            auto request =
                node_request(http::Method::post, index_path(uid) + "/documents/fetch", body.dump());
            auto page = co_await ask(ctx, node, std::move(request), status);
            if (!page) {
                out.answered = status == 404;  // no such index there
                out.refused = status;
                co_return out;
            }
            const auto results = page->value("results", json::array());
            for (const auto& doc : results) {
                const auto value = doc.find(field);
                std::optional<std::uint32_t> shard;
                if (value != doc.end() && value->is_number_unsigned()) {
                    shard = value->get<std::uint32_t>();
                } else if (value != doc.end() && value->is_string()) {
                    shard = routing::shard_of_value(value->get<std::string>());
                }
                if (!shard) {
                    ++out.unsharded;
                    continue;
                }
                const auto s = *shard;
                if (s >= shards) {  // no shard of this fleet: no read reaches it
                    ++out.unsharded;
                    continue;
                }
                out.ids[s].insert(id_text(doc.value(*pk, json())));
                ++out.counts[s];
            }
            if (results.size() < kPage) break;
        }
        out.answered = out.has_index = true;
        co_return out;
    }
    const json everything;
    const auto total = co_await count(ctx, node, uid, everything, status);
    if (!total) {
        out.answered = status == 404;
        out.refused = status;
        co_return out;
    }
    std::uint64_t sharded = 0;
    for (std::uint32_t s = 0; s < shards && sharded < *total; ++s) {
        const json filter = routing::shard_filter({s});
        const auto n = co_await count(ctx, node, uid, filter, status);
        if (!n) {
            out.refused = status;  // e.g. 400: `_miroir_shard` is not filterable there
            co_return out;
        }
        if (*n) out.counts[s] = *n;
        sharded += *n;
    }
    out.unsharded = *total - std::min(*total, sharded);
    out.answered = out.has_index = true;
    co_return out;
}

// Every index any node has, in order.
asio::awaitable<std::vector<std::string>> index_uids(fleet::Context& ctx) {
    std::set<std::string> uids;
    const auto fleet = ctx.fleet();
    for (auto n : fleet->members()) {
        unsigned status = 0;
        auto request = node_request(http::Method::get, "/indexes?limit=100000");
        auto list = co_await ask(ctx, n, std::move(request), status);
        if (!list) continue;
        for (const auto& index : list->value("results", json::array())) {
            if (index.contains("uid") && index["uid"].is_string()) {
                uids.insert(index["uid"].get<std::string>());
            }
        }
    }
    co_return std::vector<std::string>(uids.begin(), uids.end());
}

// The primary key of an index, from the first node that knows it.
asio::awaitable<std::optional<std::string>> primary_key(fleet::Context& ctx, const std::string& uid,
                                                        bool& found) {
    found = false;
    const auto fleet = ctx.fleet();
    for (auto n : fleet->members()) {
        unsigned status = 0;
        auto request = node_request(http::Method::get, index_path(uid));
        auto index = co_await ask(ctx, n, std::move(request), status);
        if (!index) continue;
        found = true;
        const auto pk = index->value("primaryKey", json());
        if (pk.is_string()) co_return pk.get<std::string>();
    }
    co_return std::nullopt;
}

json named(const std::set<std::string>& ids) {
    json out = json::array();
    for (const auto& id : ids) {
        if (out.size() == kListed) break;
        out.push_back(id);
    }
    return out;
}

// The nodes that could not be checked, lack the index or hold documents without a shard.
json node_problems(const fleet::Fleet& fleet, const std::vector<Holding>& held) {
    json problems = json::array();
    for (std::size_t n = 0; n < held.size(); ++n) {
        if (!held[n].answered && held[n].refused) {
            problems.push_back({{"problem", "node_error"},
                                {"node", fleet.node_id(n)},
                                {"status", held[n].refused}});
        } else if (!held[n].answered) {
            problems.push_back({{"problem", "unreachable"}, {"node", fleet.node_id(n)}});
        } else if (!held[n].has_index) {
            problems.push_back({{"problem", "index_missing"}, {"node", fleet.node_id(n)}});
        } else if (held[n].unsharded) {
            problems.push_back({{"problem", "unsharded"},
                                {"node", fleet.node_id(n)},
                                {"documents", held[n].unsharded}});
        }
    }
    return problems;
}

// The problems of one index, and the number of its documents.
json check_index(const fleet::Fleet& fleet, const std::vector<Holding>& held, bool with_ids,
                 std::uint64_t& documents) {
    json problems = node_problems(fleet, held);
    std::set<std::string> every_id;
    documents = 0;
    for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
        std::uint64_t most = 0;
        for (const auto& group : fleet.groups()) {
            const auto owners = fleet.owners(group, s);
            json counts = json::object();
            std::set<std::uint64_t> distinct;
            std::set<std::string> all;
            for (auto n : owners) {
                if (!held[n].has_index) continue;
                const auto it = held[n].counts.find(s);
                const std::uint64_t c = it == held[n].counts.end() ? 0 : it->second;
                counts[fleet.node_id(n)] = c;
                distinct.insert(c);
                most = std::max(most, c);
                if (const auto ids = held[n].ids.find(s); ids != held[n].ids.end()) {
                    all.insert(ids->second.begin(), ids->second.end());
                }
            }
            if (distinct.size() > 1) {
                problems.push_back({{"problem", "count_mismatch"},
                                    {"shard", s},
                                    {"group", group.id},
                                    {"counts", counts}});
            }
            if (!with_ids) continue;
            json missing = json::object();
            for (auto n : owners) {
                if (!held[n].has_index) continue;
                const auto ids = held[n].ids.find(s);
                std::set<std::string> absent;
                for (const auto& id : all) {
                    if (ids == held[n].ids.end() || !ids->second.contains(id)) absent.insert(id);
                }
                if (!absent.empty()) {
                    missing[fleet.node_id(n)] = {{"count", absent.size()}, {"ids", named(absent)}};
                }
            }
            if (!missing.empty()) {
                problems.push_back({{"problem", "ids_mismatch"},
                                    {"shard", s},
                                    {"group", group.id},
                                    {"missing", missing}});
            }
            every_id.insert(all.begin(), all.end());
        }
        documents += most;
        // documents of the shard on a node its group's placement does not give it
        for (std::size_t n = 0; n < held.size(); ++n) {
            const auto it = held[n].counts.find(s);
            if (it == held[n].counts.end() || it->second == 0) continue;
            const auto owners = fleet.owners(fleet.group_of(n), s);
            if (std::find(owners.begin(), owners.end(), n) != owners.end()) continue;
            problems.push_back({{"problem", "misplaced"},
                                {"shard", s},
                                {"node", fleet.node_id(n)},
                                {"documents", it->second}});
        }
    }
    if (with_ids) documents = every_id.size();
    return problems;
}

asio::awaitable<http::Response> verify(fleet::Context& ctx, http::Request& r) {
    std::optional<std::string> only;
    bool with_ids = true;
    for (const auto& [name, value] : http::split_query(r.query)) {
        if (name == "index") {
            scatter::check_index_uid(value);
            only = value;
        } else if (name == "ids") {
            if (value != "true" && value != "false") {
                throw http::bad_request(
                    "Invalid value in parameter `ids`: expected a boolean, but "
                    "found `" +
                    value + "`.");
            }
            with_ids = value == "true";
        } else {
            throw http::bad_request("Unknown parameter `" + name +
                                    "`: expected one of `index`, `ids`");
        }
    }
    std::vector<std::string> uids;
    const auto fleet = ctx.fleet();
    if (only) {
        uids.push_back(*only);
    } else {
        uids = co_await index_uids(ctx);
        std::erase_if(uids,
                      [&fleet](const std::string& u) { return fleet->topology().is_shadow(u); });
    }

    json indexes = json::array();
    bool clean = true;
    for (const auto& uid : uids) {
        bool found = false;
        const auto pk = co_await primary_key(ctx, uid, found);
        if (!found && only) {
            throw http::error(404, "index_not_found", "Index `" + uid + "` not found.");
        }
        // a removed node is not asked: nothing reads from it
        const auto& routed = fleet->for_index(uid);  // with the index's own shard count
        std::vector<Holding> held(fleet->size(), Holding{true, 0, true, {}, {}, 0});
        for (auto n : fleet->members()) {
            held[n] = co_await holding(ctx, routed.shards(), n, uid, pk, with_ids);
        }
        std::uint64_t documents = 0;
        auto problems = check_index(routed, held, with_ids && pk.has_value(), documents);
        clean = clean && problems.empty();
        json index;
        index["uid"] = uid;
        index["shards"] = routed.shards();
        index["checked"] = with_ids && pk ? "ids" : "counts";  // no primary key yet: counts
        index["documents"] = documents;
        index["problems"] = std::move(problems);
        indexes.push_back(std::move(index));
    }
    json body;
    body["status"] = clean ? "ok" : "problems";
    body["checked"] = with_ids ? "ids" : "counts";
    body["shards"] = fleet->shards();
    body["indexes"] = std::move(indexes);
    co_return http::respond(200, body);
}

// Shard → owners in each group, best first.
asio::awaitable<http::Response> shards(fleet::Context& ctx) {
    const auto snapshot = ctx.fleet();
    const auto& fleet = *snapshot;
    json list = json::array();
    for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
        json groups = json::array();
        for (const auto& group : fleet.groups()) {
            json owners = json::array();
            for (auto n : fleet.owners(group, s)) owners.push_back(fleet.node_id(n));
            groups.push_back({{"id", group.id}, {"nodes", std::move(owners)}});
        }
        list.push_back({{"shard", s}, {"groups", std::move(groups)}});
    }
    json body;
    body["shards"] = std::move(list);
    co_return http::respond(200, body);
}

// The node ids of each group of a node list.
std::map<int, std::vector<std::string>> by_group(const std::vector<config::Node>& nodes) {
    std::map<int, std::vector<std::string>> out;
    for (const auto& n : nodes) out[n.replica_group].push_back(n.id);
    return out;
}

// The proposed node list of a plan request, validated as the configuration's would be.
std::vector<config::Node> proposed_nodes(const fleet::Context& ctx, const json& body) {
    if (!body.is_object() || !body.contains("nodes") || !body["nodes"].is_array()) {
        throw http::bad_request(
            "Missing field `nodes`: the proposed list of nodes, each "
            "`{\"id\", \"address\", \"group\"}`.");
    }
    config::Config proposed = ctx.config;
    proposed.nodes.clear();
    int groups = 0;
    for (std::size_t i = 0; i < body["nodes"].size(); ++i) {
        const auto& n = body["nodes"][i];
        const std::string where = "`.nodes[" + std::to_string(i) + "]";
        if (!n.is_object()) throw http::bad_request(where + "`: expected an object.");
        const auto id = n.value("id", json());
        const auto address = n.value("address", json());
        const auto group = n.value("group", json(std::uint64_t{0}));
        if (!id.is_string()) throw http::bad_request(where + ".id`: expected a string.");
        if (!address.is_string()) {
            throw http::bad_request(where + ".address`: expected a string.");
        }
        if (!group.is_number_unsigned() || group.get<std::uint64_t>() > 63) {
            throw http::bad_request(where + ".group`: expected an integer from 0 to 63.");
        }
        config::Node node;
        node.id = id.get<std::string>();
        node.address = address.get<std::string>();
        node.replica_group = group.get<int>();
        groups = std::max(groups, node.replica_group + 1);
        proposed.nodes.push_back(std::move(node));
    }
    proposed.replica_groups = static_cast<std::uint32_t>(groups);
    try {
        config::validate(proposed);
    } catch (const config::ConfigError& e) {
        throw http::bad_request("Invalid node list: " + std::string(e.what()) + ".");
    }
    return proposed.nodes;
}

asio::awaitable<http::Response> plan(fleet::Context& ctx, http::Request& r) {
    const auto after_nodes = proposed_nodes(ctx, http::json_body(r));
    const auto fleet = ctx.fleet();
    std::map<int, std::vector<std::string>> before;
    for (int g : fleet->topology().groups) {
        if (auto held = fleet->topology().holding(g); !held.empty()) before[g] = std::move(held);
    }
    const auto after = by_group(after_nodes);
    std::set<int> group_ids;
    for (const auto& [g, ids] : before) group_ids.insert(g);
    for (const auto& [g, ids] : after) group_ids.insert(g);

    const auto shards = fleet->shards();
    const auto rf = fleet->topology().replication_factor;
    const std::vector<std::string> none;
    json groups = json::array();
    std::size_t moved = 0;
    double minimum = 0;
    for (const int g : group_ids) {
        const auto& was = before.contains(g) ? before.at(g) : none;
        const auto& now = after.contains(g) ? after.at(g) : none;
        json moves = json::array();
        std::size_t copies = 0;
        for (const auto& m : routing::plan_moves(was, now, shards, rf)) {
            copies += m.gained.size();
            moves.push_back({{"shard", m.shard}, {"gained", m.gained}, {"lost", m.lost}});
        }
        const double least = routing::minimum_moves(was, now, shards, rf);
        moved += copies;
        minimum += least;
        groups.push_back({{"id", g},
                          {"before", was},
                          {"after", now},
                          {"copiesMoved", copies},
                          {"minimumCopies", std::round(least * 100) / 100},
                          {"moves", std::move(moves)}});
    }
    json body;
    body["shards"] = shards;
    body["replicationFactor"] = rf;
    body["copiesMoved"] = moved;
    body["minimumCopies"] = std::round(minimum * 100) / 100;
    body["groups"] = std::move(groups);
    co_return http::respond(200, body);
}

}  // namespace

void add_placement_routes(http::Router& router, fleet::Context& ctx) {
    router.add(http::Method::post, "/_miroir/rebalance/plan", http::Access::admin,
               [&ctx](http::Request& r) { return plan(ctx, r); });
    router.add(http::Method::get, "/_miroir/shards", http::Access::admin,
               [&ctx](http::Request&) { return shards(ctx); });
    router.add(http::Method::get, "/_miroir/verify", http::Access::admin,
               [&ctx](http::Request& r) { return verify(ctx, r); });
}

}  // namespace miroir::admin
