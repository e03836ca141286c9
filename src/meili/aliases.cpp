// Aliases in the Meilisearch API (docs/operations.md, "Aliases"): a request naming an alias is
// rewritten to its index once, from one snapshot of the topology, before its handler runs; a
// search of an alias standing for several indexes is a federated search over them. A request
// naming the shadow of an index being resharded finds no index.
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/meili/aliases.hpp>

#include "search.hpp"

namespace miroir::meili {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// The request may do with `target` what its key or tenant token lets it do with `alias`.
void grant(http::Request& r, const std::string& alias, const std::string& target) {
    if (r.key_indexes && r.index_allowed(alias)) r.key_indexes->push_back(target);
    if (!r.tenant_rules) return;
    const auto* rule = r.tenant_rule(alias);
    if (!rule) return;
    auto as_target = *rule;
    as_target.pattern = target;
    std::erase_if(*r.tenant_rules, [&target](const auto& t) { return t.pattern == target; });
    r.tenant_rules->push_back(std::move(as_target));
}

http::ApiError search_only(const std::string& where, const std::string& name) {
    return http::error(400, "miroir_multi_alias_search_only",
                       where + "Alias `" + name +
                           "` stands for several indexes: it can only be searched (POST "
                           "/indexes/" +
                           name + "/search, or a query of a federated multi-search).");
}

// "/indexes/<from>..." → "/indexes/<to>..." (uids need no percent-encoding).
void rename_index(std::string& path, const std::string& from, const std::string& to) {
    const std::string prefix = "/indexes/" + from;
    if (path.starts_with(prefix)) path.replace(0, prefix.size(), "/indexes/" + to);
}

// Inside a multi-search (`where` names the query) Meilisearch answers 400.
http::ApiError not_found(const std::string& where, const std::string& uid) {
    return http::error(where.empty() ? 404 : 400, "index_not_found",
                       where + "Index `" + uid + "` not found.");
}

// The shadow of an index being resharded is none of the client's indexes: a request naming it
// finds no index, as on one Meilisearch.
void hide_shadows(const fleet::Topology& t, http::Request& r) {
    if (r.route.starts_with("/indexes/{uid}")) {
        const auto param = r.params.find("uid");
        if (param != r.params.end() && t.is_shadow(param->second)) {
            throw not_found("", param->second);
        }
        return;
    }
    if (r.route != "/multi-search") return;
    const auto body = json::parse(r.body, nullptr, false);
    const auto queries = body.is_object() ? body.value("queries", json()) : json();
    if (!queries.is_array()) return;
    for (std::size_t i = 0; i < queries.size(); ++i) {
        const auto uid = queries[i].is_object() ? queries[i].value("indexUid", json()) : json();
        if (uid.is_string() && t.is_shadow(uid.get<std::string>())) {
            throw not_found("Inside `.queries[" + std::to_string(i) + "]`: ",
                            uid.get<std::string>());
        }
    }
}

// The queries of a multi-search body, with single aliases replaced by their index and, in a
// federated one, each alias of several indexes by one query per index.
void resolve_multi_search(const fleet::Topology& t, http::Request& r) {
    auto body = json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("queries") || !body["queries"].is_array()) return;
    const bool federated = body.contains("federation") && !body["federation"].is_null();
    json queries = json::array();
    bool changed = false;
    for (std::size_t i = 0; i < body["queries"].size(); ++i) {
        auto& query = body["queries"][i];
        const auto uid = query.is_object() ? query.value("indexUid", json()) : json();
        const auto* alias = uid.is_string() ? t.alias(uid.get<std::string>()) : nullptr;
        if (!alias) {
            queries.push_back(std::move(query));
            continue;
        }
        const auto name = uid.get<std::string>();
        changed = true;
        if (alias->multi && !federated) {
            throw search_only("Inside `.queries[" + std::to_string(i) + "]`: ", name);
        }
        for (const auto& target : alias->targets) {
            grant(r, name, target);
            auto one = query;
            one["indexUid"] = target;
            queries.push_back(std::move(one));
        }
    }
    if (!changed) return;
    body["queries"] = std::move(queries);
    r.body = body.dump();
}

}  // namespace

void resolve_aliases(fleet::Context& ctx, http::Request& r) {
    const auto fleet = ctx.fleet();  // one snapshot: one resolution
    const auto& t = fleet->topology();
    if (!t.layouts.empty()) hide_shadows(t, r);
    if (t.aliases.empty()) return;
    if (r.route == "/multi-search") return resolve_multi_search(t, r);
    if (r.route == "/indexes" && r.method == Method::post) {
        const auto body = json::parse(r.body, nullptr, false);
        const auto uid = body.is_object() ? body.value("uid", json()) : json();
        if (uid.is_string() && t.alias(uid.get<std::string>())) {
            throw http::error(
                409, "miroir_alias_name_taken",
                "`" + uid.get<std::string>() + "` is an alias: an index cannot have its name.");
        }
        return;
    }
    if (!r.route.starts_with("/indexes/{uid}")) return;
    const auto param = r.params.find("uid");
    if (param == r.params.end()) return;
    const std::string name = param->second;
    const auto* alias = t.alias(name);
    if (!alias) return;
    if (alias->multi) {
        if (r.route == "/indexes/{uid}/search" && r.method == Method::post) return;
        if (r.method != Method::get && r.action != "search" && r.action != "documents.get") {
            throw http::error(409, "miroir_multi_alias_not_writable",
                              "Alias `" + name +
                                  "` stands for several indexes and takes no writes: write to "
                                  "one of its indexes.");
        }
        throw search_only("", name);
    }
    if (r.route == "/indexes/{uid}" && r.method != Method::get) {
        throw http::error(400, "miroir_alias_not_an_index",
                          "`" + name + "` is an alias of index `" + alias->targets.front() +
                              "`: update or delete the index by its own uid.");
    }
    const auto& target = alias->targets.front();
    grant(r, name, target);
    r.alias = name;
    param->second = target;
    rename_index(r.path, name, target);
    rename_index(r.target, name, target);
}

asio::awaitable<std::optional<http::Response>> search_alias(Context& ctx, const std::string& name,
                                                            const json& body) {
    const auto fleet = ctx.fleet();
    const auto* alias = fleet->topology().alias(name);
    if (!alias || !alias->multi) co_return std::nullopt;
    json federation = json::object();
    json query = body;
    for (const char* key : {"limit", "offset", "page", "hitsPerPage"}) {
        if (query.contains(key)) {
            federation[key] = query[key];
            query.erase(key);
        }
    }
    if (query.contains("facets")) {
        json by_index = json::object();
        for (const auto& target : alias->targets) by_index[target] = query["facets"];
        federation["facetsByIndex"] = std::move(by_index);
        json merge = json::object();
        if (query.contains("maxValuesPerFacet")) {
            merge["maxValuesPerFacet"] = query["maxValuesPerFacet"];
            query.erase("maxValuesPerFacet");
        }
        federation["mergeFacets"] = std::move(merge);
        query.erase("facets");
    }
    json federated;
    federated["federation"] = std::move(federation);
    federated["queries"] = json::array();
    for (const auto& target : alias->targets) {
        auto one = query;
        one["indexUid"] = target;
        hide_expired(fleet->topology(), target, one);
        federated["queries"].push_back(std::move(one));
    }
    auto response = co_await federated_search(ctx, federated);
    if (response.status != 200) co_return response;
    // shaped as a search of one index: the query first, as Meilisearch answers it
    const auto merged = json::parse(response.body, nullptr, false);
    json out;
    if (merged.contains("hits")) out["hits"] = merged["hits"];
    const auto q = body.value("q", json(""));
    out["query"] = q.is_string() ? q : json("");
    for (const auto& [key, value] : merged.items()) {
        if (key != "hits") out[key] = value;
    }
    response.body = out.dump();
    co_return response;
}

}  // namespace miroir::meili
