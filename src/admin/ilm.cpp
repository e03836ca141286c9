// Rolling index families: POST and GET /_miroir/ilm, GET and DELETE /_miroir/ilm/{name},
// POST /_miroir/ilm/{name}/rollover (docs/operations.md, "Rolling indexes").
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/util/time.hpp>
#include <miroir/workers/workers.hpp>

#include "policy_fields.hpp"

namespace miroir::admin {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using fleet::IlmPolicy;

http::ApiError invalid(const std::string& message) {
    return http::error(400, "miroir_invalid_ilm_policy", message);
}

http::ApiError not_found(const std::string& name) {
    return http::error(404, "miroir_ilm_policy_not_found", "Policy `" + name + "` not found.");
}

json policy_json(const std::string& name, const IlmPolicy& p) {
    json out;
    out["name"] = name;
    out["write_alias"] = p.write_alias;
    out["read_alias"] = p.read_alias;
    out["pattern"] = p.pattern;
    out["primary_key"] = p.primary_key ? json(*p.primary_key) : json(nullptr);
    out["max_documents"] = p.max_documents;
    out["max_age_s"] = p.max_age_s;
    out["retain"] = p.retain;
    out["check_interval_s"] = p.check_interval_s;
    out["generation"] = p.generation;
    out["current"] = p.indexes.empty() ? json(nullptr) : json(p.indexes.back());
    out["indexes"] = p.indexes;
    out["rolledAt"] = p.rolled_at
                          ? json(util::rfc3339(util::Time(std::chrono::milliseconds(p.rolled_at))))
                          : json(nullptr);
    return out;
}

// A name the policy gives an index or alias: Meilisearch's index uid rules.
std::string valid_name(const json& value, const std::string& key) {
    if (!value.is_string()) throw invalid("`" + key + "` must be a string.");
    const auto name = value.get<std::string>();
    try {
        scatter::check_index_uid(name);
    } catch (const http::ApiError&) {
        throw invalid("`" + key + "` is `" + name +
                      "`: use alphanumeric characters, hyphens (-) and underscores (_), at most "
                      "400 bytes.");
    }
    return name;
}

std::int64_t whole(const json& value, const std::string& key, std::int64_t least,
                   std::int64_t most) {
    return admin::whole(value, key, least, most, "miroir_invalid_ilm_policy");
}

// The policy a POST body asks for, and its name.
std::pair<std::string, IlmPolicy> read_policy(const json& body) {
    if (!body.is_object()) throw invalid("The body must be a JSON object.");
    IlmPolicy p;
    std::string name;
    for (const auto& [key, value] : body.items()) {
        if (key == "name") {
            name = valid_name(value, key);
        } else if (key == "write_alias") {
            p.write_alias = valid_name(value, key);
        } else if (key == "read_alias") {
            p.read_alias = valid_name(value, key);
        } else if (key == "pattern") {
            if (!value.is_string()) throw invalid("`pattern` must be a string.");
            p.pattern = value.get<std::string>();
        } else if (key == "primary_key") {
            if (!value.is_string() || value.get<std::string>().empty()) {
                throw invalid("`primary_key` must be a field name.");
            }
            p.primary_key = value.get<std::string>();
        } else if (key == "max_documents") {
            p.max_documents = static_cast<std::uint64_t>(whole(value, key, 0, 1000000000000));
        } else if (key == "max_age_s") {
            p.max_age_s = whole(value, key, 0, kCentury);
        } else if (key == "retain") {
            p.retain = static_cast<std::uint32_t>(whole(value, key, 1, 100));  // an alias's most
        } else if (key == "check_interval_s") {
            p.check_interval_s = whole(value, key, 1, kYear);
        } else {
            throw invalid("Unknown field `" + key +
                          "`: expected `name`, `write_alias`, `read_alias`, `pattern`, "
                          "`primary_key`, `max_documents`, `max_age_s`, `retain` or "
                          "`check_interval_s`.");
        }
    }
    for (const char* key : {"name", "write_alias", "read_alias", "pattern"}) {
        if (!body.contains(key)) throw invalid(std::string("Missing field `") + key + "`.");
    }
    const auto at = p.pattern.find("{n}");
    if (at == std::string::npos || p.pattern.find("{n}", at + 1) != std::string::npos) {
        throw invalid("`pattern` must hold `{n}` once, where each index's number goes.");
    }
    auto first = p.pattern;
    valid_name(json(first.replace(at, 3, "1")), "pattern");
    if (p.write_alias == p.read_alias) throw invalid("`write_alias` and `read_alias` must differ.");
    if (p.max_documents == 0 && p.max_age_s == 0) {
        throw invalid("Give `max_documents` or `max_age_s`: when to roll over.");
    }
    return {name, std::move(p)};
}

// No alias, index or other policy has the names the new policy needs.
asio::awaitable<void> check_free(fleet::Context& ctx, const std::string& name, const IlmPolicy& p) {
    const auto fleet = ctx.fleet();
    const auto& t = fleet->topology();
    if (t.ilm.contains(name)) {
        throw http::error(409, "miroir_ilm_policy_exists", "Policy `" + name + "` already exists.");
    }
    for (const auto& alias : {p.write_alias, p.read_alias}) {
        if (t.alias(alias)) {
            throw http::error(409, "miroir_alias_exists", "Alias `" + alias + "` already exists.");
        }
        const auto index = co_await scatter::lookup_index(ctx, alias);
        if (index) {
            throw http::error(409, "miroir_alias_name_taken",
                              "`" + alias + "` is an index: an alias cannot have its name.");
        }
    }
    for (const auto& [other, q] : t.ilm) {
        for (const auto& alias : {q.write_alias, q.read_alias}) {
            if (alias == p.write_alias || alias == p.read_alias) {
                throw http::error(409, "miroir_alias_exists",
                                  "Alias `" + alias + "` belongs to policy `" + other + "`.");
            }
        }
    }
}

// POST /_miroir/ilm: the policy stored, then its first index made and its aliases set.
asio::awaitable<http::Response> create_policy(fleet::Context& ctx, http::Request& r) {
    auto [name, policy] = read_policy(http::json_body(r));
    co_await check_free(ctx, name, policy);
    policy.rolled_at = util::unix_ms();  // made: the ilm job leaves its first index to us
    co_await fleet::change_topology(ctx, [&name, &policy](fleet::Topology& t) {
        if (!t.ilm.emplace(name, policy).second) {
            throw http::error(409, "miroir_ilm_policy_exists",
                              "Policy `" + name + "` already exists.");
        }
    });
    const std::optional<std::uint64_t> first = 0;
    const auto made = co_await workers::roll_over(ctx, name, first);
    co_return http::respond(201, policy_json(name, made));
}

const IlmPolicy& held(const fleet::Fleet& fleet, const std::string& name) {
    const auto it = fleet.topology().ilm.find(name);
    if (it == fleet.topology().ilm.end()) throw not_found(name);
    return it->second;
}

asio::awaitable<http::Response> get_policy(fleet::Context& ctx, http::Request& r) {
    const std::string name(r.param("name"));
    const auto fleet = ctx.fleet();
    co_return http::respond(200, policy_json(name, held(*fleet, name)));
}

asio::awaitable<http::Response> list_policies(fleet::Context& ctx) {
    const auto fleet = ctx.fleet();
    json results = json::array();
    for (const auto& [name, p] : fleet->topology().ilm) results.push_back(policy_json(name, p));
    json out;
    out["results"] = results;
    out["total"] = results.size();
    co_return http::respond(200, out);
}

// DELETE: the policy goes; its indexes and aliases stay as they are.
asio::awaitable<http::Response> delete_policy(fleet::Context& ctx, http::Request& r) {
    const std::string name(r.param("name"));
    co_await fleet::change_topology(ctx, [&name](fleet::Topology& t) {
        if (t.ilm.erase(name) == 0) throw not_found(name);
    });
    http::Response done;
    done.status = 204;
    co_return done;
}

asio::awaitable<http::Response> force_rollover(fleet::Context& ctx, http::Request& r) {
    const std::string name(r.param("name"));
    held(*ctx.fleet(), name);
    const std::optional<std::uint64_t> any;
    const auto rolled = co_await workers::roll_over(ctx, name, any);
    co_return http::respond(200, policy_json(name, rolled));
}

}  // namespace

void add_ilm_routes(http::Router& router, fleet::Context& ctx) {
    router.add(http::Method::post, "/_miroir/ilm", http::Access::admin,
               [&ctx](http::Request& r) { return create_policy(ctx, r); });
    router.add(http::Method::get, "/_miroir/ilm", http::Access::admin,
               [&ctx](http::Request&) { return list_policies(ctx); });
    router.add(http::Method::get, "/_miroir/ilm/{name}", http::Access::admin,
               [&ctx](http::Request& r) { return get_policy(ctx, r); });
    router.add(http::Method::del, "/_miroir/ilm/{name}", http::Access::admin,
               [&ctx](http::Request& r) { return delete_policy(ctx, r); });
    router.add(http::Method::post, "/_miroir/ilm/{name}/rollover", http::Access::admin,
               [&ctx](http::Request& r) { return force_rollover(ctx, r); });
}

}  // namespace miroir::admin
