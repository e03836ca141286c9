// Query explain (explain.hpp): the plan of search.cpp, from search_plan.cpp, described.
#include <algorithm>
#include <chrono>

#include <miroir/config/config.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/settings_state.hpp>
#include <miroir/routing/pinned.hpp>
#include <miroir/scatter/explain.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/observed.hpp>

#include "search_plan.hpp"

namespace miroir::scatter {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

json warning(const char* code, const std::string& message) {
    return {{"code", code}, {"message", message}};
}

// Every readable group: its nodes' health and observed latency, and whether the nodes that are
// up cover every shard (a group that does not gives way to the next).
json groups_of(const Context& ctx, const Fleet& fleet, json& warnings) {
    json out = json::array();
    for (const auto& group : fleet.groups()) {
        json nodes = json::array();
        std::vector<std::string> unwell;
        for (auto slot : group.nodes) {
            const auto state = ctx.health.state(slot);
            const auto seen = ctx.observed.get(slot);
            nodes.push_back({{"id", fleet.node_id(slot)},
                             {"state", upstream::to_string(state)},
                             {"latencyMs", seen.latency_ms},
                             {"errorRate", seen.error_rate}});
            if (state != upstream::NodeState::healthy) {
                unwell.push_back(fleet.node_id(slot) + " is " +
                                 std::string(upstream::to_string(state)));
            }
        }
        const bool covers = group_covers(ctx, fleet, group);
        out.push_back({{"id", group.id}, {"coversEveryShard", covers}, {"nodes", nodes}});
        if (unwell.empty()) continue;
        std::string list;
        for (const auto& u : unwell) list += (list.empty() ? "" : ", ") + u;
        warnings.push_back(
            warning("group_unhealthy", "Replica group " + std::to_string(group.id) + ": " + list +
                                           (covers ? "." : "; it cannot answer for every shard.")));
    }
    return out;
}

// The query's faults one node holding every document would also have, or that make the search
// costly: the nodes answer them, explain only names them.
void query_warnings(const SearchWindow& w, const ExplainQuery& q, const SearchPlan& p,
                    json& warnings) {
    const auto& settings = p.settings;
    for (const auto& attribute : routing::filter_attributes(w.filter)) {
        if (settings.facetable(attribute)) continue;
        warnings.push_back(warning("filter_not_filterable",
                                   "The filter tests `" + attribute +
                                       "`, which is not in filterableAttributes: the nodes "
                                       "refuse the search."));
    }
    for (const auto& facet : w.facets) {
        if (facet == "*" || settings.facetable(facet)) continue;
        warnings.push_back(warning("facet_not_filterable",
                                   "Facet `" + facet +
                                       "` is not in filterableAttributes: the nodes refuse the "
                                       "search."));
    }
    for (const auto& rule : q.sort) {
        const auto colon = rule.rfind(':');
        const auto attribute = rule.substr(0, colon);
        if (attribute.starts_with("_geoPoint(") || settings.sortable_by(attribute)) continue;
        warnings.push_back(warning("sort_not_sortable",
                                   "The sort rule `" + rule + "` names `" + attribute +
                                       "`, which is not in sortableAttributes: the nodes refuse "
                                       "the search."));
    }
    if (p.depth > settings.max_total_hits) {
        warnings.push_back(warning(
            "pagination_beyond_max_total_hits",
            "The window ends at hit " + std::to_string(p.depth) +
                ", beyond pagination.maxTotalHits (" + std::to_string(settings.max_total_hits) +
                "): the hits past it are never returned, and each node is still asked for " +
                std::to_string(p.depth) + "."));
    }
}

// Each node asked, with its shards and how many hits it is asked for.
json nodes_of(const Fleet& fleet, const SearchPlan& p) {
    json out = json::array();
    for (const auto& a : p.nodes) {
        out.push_back({{"node", fleet.node_id(a.node)},
                       {"group", fleet.group_of(a.node).id},
                       {"shards", a.shards},
                       {"restricted", a.restricted},
                       {"hitsAsked", p.whole ? merge::window_length(p.ask) : p.depth}});
    }
    return out;
}

// How the answers are merged, and how much more the nodes send than the client gets.
json merge_of(const SearchPlan& p) {
    const auto wanted = merge::window_length(p.ask);
    const auto asked = p.whole ? wanted : p.depth * p.nodes.size();
    json out = {{"wholeAnswer", p.whole},
                {"hitsPerNode", p.whole ? wanted : p.depth},
                {"hitsAsked", asked},
                {"hitsReturned", wanted},
                {"overFetch", wanted ? json(static_cast<double>(asked) / wanted) : json()},
                {"rankingDetailsAsked", p.extra.scores},
                {"distinct", p.ask.distinct ? json(*p.ask.distinct) : json()},
                {"hybridSidesApart", p.hybrid && p.extra.scores}};
    if (p.extra.facet) out["facetAdded"] = *p.extra.facet;
    if (p.extra.retrieve) out["attributeAdded"] = *p.extra.retrieve;
    return out;
}

}  // namespace

asio::awaitable<json> explain(Context& ctx, const std::string& uid, SearchWindow w,
                              const NodeSearch& node_search, ExplainQuery q) {
    auto p = first_plan(ctx, uid, w);
    co_await complete_plan(ctx, uid, w, p);
    const auto& fleet = *p.fleet;
    const auto view = ctx.settings.get(uid);
    json warnings = json::array();
    json out = {{"index", uid},
                {"topologyVersion", fleet.version()},
                {"shards", fleet.shards()},
                {"replicationFactor", fleet.topology().replication_factor},
                {"settingsVersion", view ? view->version : 0},
                {"replicaSelection", ctx.config.scatter.replica_selection}};
    out["groups"] = groups_of(ctx, fleet, warnings);
    json avoided = json::array();
    for (auto slot : w.avoid) avoided.push_back(fleet.node_id(slot));
    out["avoided"] = avoided;
    out["planner"] = {{"pinnedIds", p.pinned ? json(*p.pinned) : json()},
                      {"shardsQueried", p.shards_asked}};
    out["nodes"] = nodes_of(fleet, p);
    out["merge"] = merge_of(p);
    query_warnings(w, q, p, warnings);
    out["warnings"] = warnings;
    if (!q.execute) co_return out;

    json trace = json::array();
    w.trace = &trace;
    const auto started = std::chrono::steady_clock::now();
    auto response = co_await search(ctx, uid, w, node_search);
    const std::chrono::duration<double, std::milli> took =
        std::chrono::steady_clock::now() - started;
    json execution = {
        {"status", response.status}, {"tookMs", took.count()}, {"nodeRequests", trace}};
    if (const auto queried = response.headers.get("X-Miroir-Shards-Queried")) {
        execution["shardsQueried"] = std::string(*queried);
    }
    if (const auto degraded = response.headers.get("X-Miroir-Degraded")) {
        execution["degraded"] = std::string(*degraded);
    }
    execution["result"] = json::parse(response.body, nullptr, false);
    out["execution"] = std::move(execution);
    co_return out;
}

}  // namespace miroir::scatter
