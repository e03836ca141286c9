// Index reads and updates, and statistics, across the fleet.
//
// Every node holds every index, so an index is listed when any node has it: its createdAt is the
// earliest and its updatedAt the latest the nodes report. Document counts are exact: each node
// counts its documents per shard (a facet distribution on `_miroir_shard`), and each shard is
// counted once, from the node of the covering set that answers for it. The other statistics a
// node reports for all its shards at once (sizes, fieldDistribution, embeddings) are taken in
// proportion to the documents of the shards it answers for: exact for a field every document
// has, an estimate for the others when a node holds more shards than it answers for.
#include <algorithm>
#include <cmath>
#include <map>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/meili/ttl.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/shadow.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/util/size.hpp>
#include <miroir/util/time.hpp>

#include "route.hpp"

namespace miroir::meili {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// Every node's answer to the same read; failed exchanges are empty.
asio::awaitable<std::vector<upstream::UpstreamResult>> ask_every_node(Context& ctx,
                                                                      std::string target) {
    std::vector<asio::awaitable<upstream::UpstreamResult>> requests;
    const auto fleet = ctx.fleet();
    const auto timeout = time_left(ctx, read_deadline(ctx));
    for (auto slot : fleet->members()) {
        requests.push_back(ctx.nodes[slot]->send(node_request(Method::get, target), timeout));
    }
    co_return co_await upstream::gather(std::move(requests));
}

http::ApiError no_node_answered(const std::string& what) {
    return http::ApiError(503, "miroir_no_quorum", http::ErrorType::system,
                          "No node answered about " + what + ".");
}

bool later(const json& a, const json& b) {
    if (!a.is_string()) return false;
    if (!b.is_string()) return true;
    const auto ta = util::parse_date(a.get<std::string>());
    const auto tb = util::parse_date(b.get<std::string>());
    return ta && tb ? *ta > *tb : a.get<std::string>() > b.get<std::string>();
}

// One index as the fleet holds it, from the nodes' views of it.
void merge_index(json& into, const json& view) {
    if (into.is_null()) {
        into = view;
        return;
    }
    if (later(into["createdAt"], view["createdAt"])) into["createdAt"] = view["createdAt"];
    if (later(view["updatedAt"], into["updatedAt"])) into["updatedAt"] = view["updatedAt"];
    if (into["primaryKey"].is_null()) into["primaryKey"] = view["primaryKey"];
}

// Every index some node holds, by uid.
asio::awaitable<std::map<std::string, json>> all_indexes(Context& ctx) {
    const auto results = co_await ask_every_node(ctx, "/indexes?offset=0&limit=1000000");
    std::map<std::string, json> indexes;
    bool answered = false;
    for (const auto& result : results) {
        if (!result || result->status != 200) continue;
        const auto body = json::parse(result->body, nullptr, false);
        if (!body.is_object() || !body.contains("results")) continue;
        answered = true;
        for (const auto& index : body["results"]) {
            merge_index(indexes[index.value("uid", std::string())], index);
        }
    }
    if (!answered) throw no_node_answered("its indexes");
    const auto fleet = ctx.fleet();  // the shadows of indexes being resharded are hidden
    std::erase_if(indexes,
                  [&fleet](const auto& e) { return fleet->topology().is_shadow(e.first); });
    co_return indexes;
}

asio::awaitable<http::Response> list_indexes(Context& ctx, http::Request& r) {
    const http::Query q(r.query, {"offset", "limit"});
    const auto offset = q.get_uint("offset", "invalid_index_offset").value_or(0);
    const auto limit = q.get_uint("limit", "invalid_index_limit").value_or(20);
    auto indexes = co_await all_indexes(ctx);
    std::erase_if(indexes, [&r](const auto& entry) { return !r.index_allowed(entry.first); });
    json results = json::array();
    std::uint64_t i = 0;
    for (const auto& [uid, index] : indexes) {
        if (i++ >= offset && results.size() < limit) results.push_back(index);
    }
    json out;
    out["results"] = std::move(results);
    out["offset"] = offset;
    out["limit"] = limit;
    out["total"] = indexes.size();
    co_return http::respond(200, out);
}

asio::awaitable<http::Response> get_index(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto results = co_await ask_every_node(ctx, index_path(uid));
    json index;
    const upstream::UpstreamResponse* refusal = nullptr;
    for (const auto& result : results) {
        if (!result) continue;
        if (result->status == 200) {
            merge_index(index, json::parse(result->body, nullptr, false));
        } else if (result->status < 500 && !refusal) {
            refusal = &*result;
        }
    }
    if (!index.is_null()) co_return http::respond(200, index);
    if (refusal) co_return relay_error(refusal->status, refusal->body);
    throw no_node_answered("index `" + uid + "`");
}

// PATCH /indexes/{uid}: a new primary key or a new uid, on every node, as one task. Miroir's
// record of the index follows when the nodes accept: a primary key changes only while the index
// holds no document (the nodes refuse it otherwise).
asio::awaitable<http::Response> update_index(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto body = http::json_body(r);
    json details;
    const json pk = body.is_object() ? body.value("primaryKey", json()) : json();
    details["primaryKey"] = pk;
    std::optional<std::string> new_uid;
    if (body.is_object() && body.contains("uid") && body["uid"].is_string()) {
        new_uid = body["uid"].get<std::string>();
        check_index_uid(*new_uid);
        details["oldIndexUid"] = uid;
        details["newIndexUid"] = *new_uid;
    }
    auto known = co_await lookup_index(ctx, uid);
    bool empty = true;
    if (known && pk.is_string() && known->primary_key && *known->primary_key != pk) {
        for (const auto& result : co_await ask_every_node(ctx, index_path(uid) + "/stats")) {
            if (!result || result->status != 200) continue;
            const auto stats = json::parse(result->body, nullptr, false);
            if (stats.is_object() && stats.value("numberOfDocuments", 0) > 0) empty = false;
        }
    }
    const auto fleet = ctx.fleet();  // one snapshot: the write is routed and judged on it
    refuse_while_resharded(*fleet, uid, "an update of the index");
    auto task = new_task(uid, "indexUpdate", details, fleet->copies());
    auto outcomes = co_await fan_out(
        ctx, broadcast(*fleet, node_request(Method::patch, index_path(uid), body.dump())));
    auto response = co_await conclude(ctx, *fleet, std::move(task), outcomes, all_shards(*fleet));
    if (response.status == 202 && known) {
        if (pk.is_string() && empty) known->primary_key = pk.get<std::string>();
        if (new_uid) {
            co_await ctx.store.erase_index(uid);
            co_await swap_ttl(ctx, uid, *new_uid);
            co_await swap_layouts(ctx, uid, *new_uid);
            known->uid = *new_uid;
        }
        co_await ctx.store.put_index(*known);
    }
    co_return response;
}

// A node's count of documents per shard of one index; empty when the node could not say.
std::map<std::uint32_t, std::uint64_t> shard_counts(const json& search) {
    std::map<std::uint32_t, std::uint64_t> out;
    if (!search.is_object() || !search.contains("facetDistribution")) return out;
    const auto& dist = search["facetDistribution"];
    const auto it = dist.find(std::string(routing::kShardField));
    if (it == dist.end()) return out;
    for (const auto& [value, count] : it->items()) {
        const auto shard = routing::shard_of_value(value);
        if (shard && count.is_number_unsigned()) out[*shard] += count.get<std::uint64_t>();
    }
    return out;
}

// How GET /stats and GET /indexes/{uid}/stats show sizes: `showInternalDatabaseSizes` adds each
// internal database's size, `sizeFormat=human` writes sizes as "3.99 KiB".
struct StatsFormat {
    bool internal = false;
    bool human = false;

    explicit StatsFormat(const http::Query& q)
        : internal(
              q.get_bool("showInternalDatabaseSizes", "invalid_stats_show_internal_database_sizes")
                  .value_or(false)) {
        const auto format = q.get("sizeFormat");
        if (format && *format != "human" && *format != "raw") {
            throw http::error(400, "invalid_stats_size_format",
                              "Unknown value `" + *format +
                                  "` for parameter `sizeFormat`: expected one of `human`, `raw`");
        }
        human = format == "human";
    }

    // Bytes as a number, or as people read them ("3.99 KiB").
    json size(std::uint64_t bytes) const {
        return human ? json(util::human_size(bytes)) : json(bytes);
    }
};

std::uint64_t share(const json& stats, const char* key, double fraction) {
    return static_cast<std::uint64_t>(std::llround(stats.value(key, 0.0) * fraction));
}

// One index's statistics summed over the nodes of a covering set, each node counted for the
// shards it answers for.
struct StatsSum {
    std::uint64_t documents = 0, raw_size = 0, embeddings = 0, embedded = 0;
    bool indexing = false, answered = false;
    std::map<std::string, std::uint64_t> fields;
    json internal = json::object();  // each internal database's share, in the nodes' order

    // A node's stats; `counts` its documents per shard when it could say; `held` how many shards
    // it holds.
    void add(const json& stats, const std::optional<std::map<std::uint32_t, std::uint64_t>>& counts,
             const Assignment& a, std::size_t held) {
        answered = true;
        const auto total = stats.value("numberOfDocuments", std::uint64_t{0});
        std::uint64_t mine = 0;
        double fraction = 1;
        if (counts) {
            for (auto s : a.shards) {
                if (auto c = counts->find(s); c != counts->end()) mine += c->second;
            }
            fraction = total ? static_cast<double>(mine) / static_cast<double>(total) : 0;
        } else {
            // documents written behind Miroir's back carry no shard: share by shard count
            fraction = a.restricted && held
                           ? static_cast<double>(a.shards.size()) / static_cast<double>(held)
                           : 1.0;
            mine = static_cast<std::uint64_t>(std::llround(static_cast<double>(total) * fraction));
        }
        documents += mine;
        raw_size += share(stats, "rawDocumentDbSize", fraction);
        embeddings += share(stats, "numberOfEmbeddings", fraction);
        embedded += share(stats, "numberOfEmbeddedDocuments", fraction);
        indexing = indexing || stats.value("isIndexing", false);
        if (stats.contains("internalDatabaseSizes") && stats["internalDatabaseSizes"].is_object()) {
            const auto& sizes = stats["internalDatabaseSizes"];
            for (const auto& [db, bytes] : sizes.items()) {
                internal[db] =
                    internal.value(db, std::uint64_t{0}) + share(sizes, db.c_str(), fraction);
            }
        }
        if (stats.contains("fieldDistribution") && stats["fieldDistribution"].is_object()) {
            for (const auto& [field, count] : stats["fieldDistribution"].items()) {
                if (field.starts_with(routing::kReservedPrefix)) continue;
                fields[field] +=
                    static_cast<std::uint64_t>(std::llround(count.get<double>() * fraction));
            }
        }
    }

    json view(const StatsFormat& format) const {
        json out;
        out["numberOfDocuments"] = documents;
        out["rawDocumentDbSize"] = format.size(raw_size);
        out["avgDocumentSize"] = format.size(documents ? raw_size / documents : 0);
        out["isIndexing"] = indexing;
        if (format.internal && !internal.empty()) {
            json sizes = json::object();
            for (const auto& [db, bytes] : internal.items()) {
                sizes[db] = format.size(bytes.get<std::uint64_t>());
            }
            out["internalDatabaseSizes"] = std::move(sizes);
        }
        out["numberOfEmbeddings"] = embeddings;
        out["numberOfEmbeddedDocuments"] = embedded;
        json distribution = json::object();
        for (const auto& [field, count] : fields) distribution[field] = count;
        out["fieldDistribution"] = std::move(distribution);
        return out;
    }
};

// The statistics of one index over a covering set; null with `refusal` set when a node refused
// (index_not_found).
asio::awaitable<json> index_stats(Context& ctx, const std::string& uid, const StatsFormat& format,
                                  std::optional<http::Response>& refusal) {
    const auto fleet = ctx.fleet_of(uid);  // one snapshot for the whole request
    const auto plan = covering_set(ctx, *fleet, 0, true);
    json count_query;
    count_query["limit"] = 0;
    count_query["facets"] = json::array({routing::kShardField});
    const std::string counts_body = count_query.dump();
    std::vector<asio::awaitable<upstream::UpstreamResult>> requests;
    const auto timeout = time_left(ctx, read_deadline(ctx));
    for (const auto& a : plan) {
        requests.push_back(ctx.nodes[a.node]->send(
            node_request(Method::get,
                         index_path(uid) + "/stats" +
                             (format.internal ? "?showInternalDatabaseSizes=true" : "")),
            timeout));
        requests.push_back(ctx.nodes[a.node]->send(
            node_request(Method::post, index_path(uid) + "/search", counts_body), timeout));
    }
    const auto results = co_await upstream::gather(std::move(requests));

    StatsSum sum;
    for (std::size_t i = 0; i < plan.size(); ++i) {
        const auto& stats_result = results[2 * i];
        if (!stats_result) continue;
        if (stats_result->status != 200) {
            if (stats_result->status < 500 && !refusal) {
                refusal = relay_error(stats_result->status, stats_result->body);
            }
            continue;
        }
        const auto stats = json::parse(stats_result->body, nullptr, false);
        if (!stats.is_object()) continue;
        const auto& counts_result = results[2 * i + 1];
        const auto counts =
            counts_result && counts_result->status == 200
                ? std::optional(shard_counts(json::parse(counts_result->body, nullptr, false)))
                : std::nullopt;
        sum.add(stats, counts, plan[i], fleet->held_by(plan[i].node));
    }
    if (refusal) co_return json();
    if (!sum.answered) throw no_node_answered("index `" + uid + "`");
    co_return sum.view(format);
}

asio::awaitable<http::Response> get_index_stats(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const http::Query q(r.query, {"showInternalDatabaseSizes", "sizeFormat"});
    const StatsFormat format(q);
    std::optional<http::Response> refusal;
    auto stats = co_await index_stats(ctx, uid, format, refusal);
    if (refusal) co_return std::move(*refusal);
    co_return http::respond(200, stats);
}

// GET /stats: the fleet's storage (every copy takes room), its last update, and each index's
// statistics without counting replicas twice.
asio::awaitable<http::Response> get_stats(Context& ctx, http::Request& r) {
    const http::Query q(r.query, {"showInternalDatabaseSizes", "sizeFormat"});
    const StatsFormat format(q);
    const auto results = co_await ask_every_node(ctx, "/stats");
    std::uint64_t size = 0, used = 0;
    json last_update;
    bool answered = false;
    for (const auto& result : results) {
        if (!result || result->status != 200) continue;
        const auto body = json::parse(result->body, nullptr, false);
        if (!body.is_object()) continue;
        answered = true;
        size += body.value("databaseSize", std::uint64_t{0});
        used += body.value("usedDatabaseSize", std::uint64_t{0});
        if (later(body.value("lastUpdate", json()), last_update)) last_update = body["lastUpdate"];
    }
    if (!answered) throw no_node_answered("its statistics");
    json indexes = json::object();
    for (const auto& [uid, index] : co_await all_indexes(ctx)) {
        if (!r.index_allowed(uid)) continue;
        std::optional<http::Response> refusal;  // deleted meanwhile
        auto stats = co_await index_stats(ctx, uid, format, refusal);
        if (!refusal) indexes[uid] = std::move(stats);
    }
    json out;
    out["databaseSize"] = format.size(size);
    out["usedDatabaseSize"] = format.size(used);
    out["lastUpdate"] = last_update;
    out["indexes"] = std::move(indexes);
    co_return http::respond(200, out);
}

}  // namespace

void add_index_routes(http::Router& router, Context& ctx) {
    add_route(router, ctx, Method::get, "/indexes", "indexes.get", list_indexes);
    add_route(router, ctx, Method::get, "/indexes/{uid}", "indexes.get", get_index);
    add_route(router, ctx, Method::patch, "/indexes/{uid}", "indexes.update", update_index);
    add_route(router, ctx, Method::get, "/indexes/{uid}/stats", "stats.get", get_index_stats);
    add_route(router, ctx, Method::get, "/stats", "stats.get", get_stats);
}

}  // namespace miroir::meili
