// The alias admin API: names standing for indexes, kept in the topology so that every pod
// resolves them from the same snapshot, and flipped atomically: a change answers once every
// live pod has loaded it (docs/operations.md, "Aliases").
#include <algorithm>
#include <chrono>
#include <set>

#include <nlohmann/json.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/pods.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/log/log.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/node_client.hpp>
#include <miroir/util/time.hpp>

namespace miroir::admin {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using fleet::Alias;
using fleet::Topology;

constexpr std::size_t kHistory = 20;      // flips kept per alias
constexpr std::size_t kMaxTargets = 100;  // indexes one alias may stand for

std::string date(std::int64_t unix_ms) {
    return util::rfc3339(util::Time(std::chrono::milliseconds(unix_ms)));
}

json targets_json(const Alias& a, const std::vector<std::string>& targets) {
    json out = json::object();
    if (a.multi) {
        out["targets"] = targets;
    } else {
        out["target"] = targets.empty() ? json(nullptr) : json(targets.front());
    }
    return out;
}

json alias_json(const std::string& name, const Alias& a) {
    json out;
    out["name"] = name;
    out.update(targets_json(a, a.targets));
    out["createdAt"] = date(a.created_at);
    out["updatedAt"] = date(a.updated_at);
    json history = json::array();
    for (const auto& f : a.history) {
        auto entry = targets_json(a, f.targets);
        entry["at"] = date(f.at);
        history.push_back(std::move(entry));
    }
    out["history"] = std::move(history);
    return out;
}

http::ApiError bad_alias(std::string message) {
    return http::error(400, "miroir_invalid_alias", std::move(message));
}

void check_name(const std::string& name, const char* what) {
    try {
        scatter::check_index_uid(name);
    } catch (const http::ApiError&) {
        throw bad_alias(std::string("`") + name + "` is not a valid " + what +
                        ": use alphanumeric characters, hyphens (-) and underscores (_), at "
                        "most 400 bytes.");
    }
}

// What a POST or PUT body asks: the alias's targets, and whether it named several.
struct Wanted {
    std::string name;
    std::vector<std::string> targets;
    bool multi = false;
};

Wanted parse_body(const http::Request& r, bool with_name) {
    const auto body = json::parse(r.body, nullptr, false);
    if (!body.is_object()) throw bad_alias("The body must be a JSON object.");
    Wanted w;
    for (const auto& [key, value] : body.items()) {
        if (key == "name" && with_name) {
            if (!value.is_string()) throw bad_alias("`name` must be a string.");
            w.name = value.get<std::string>();
        } else if (key == "target") {
            if (!value.is_string()) throw bad_alias("`target` must be an index uid.");
            w.targets = {value.get<std::string>()};
        } else if (key == "targets") {
            if (!value.is_array() || value.empty() || value.size() > kMaxTargets) {
                throw bad_alias("`targets` must be a list of 1 to " + std::to_string(kMaxTargets) +
                                " index uids.");
            }
            for (const auto& t : value) {
                if (!t.is_string()) throw bad_alias("`targets` must hold index uids.");
                w.targets.push_back(t.get<std::string>());
            }
            w.multi = true;
        } else {
            throw bad_alias("Unknown field `" + key + "`: expected " +
                            (with_name ? "`name`, " : "") + "`target` or `targets`.");
        }
    }
    if (body.contains("target") == body.contains("targets")) {
        throw bad_alias("Give exactly one of `target` (one index) and `targets` (several).");
    }
    if (with_name) {
        if (!body.contains("name")) throw bad_alias("Missing field `name`.");
        check_name(w.name, "alias name");
    }
    std::set<std::string> seen;
    for (const auto& t : w.targets) {
        check_name(t, "index uid");
        if (!seen.insert(t).second) throw bad_alias("`targets` names `" + t + "` twice.");
    }
    return w;
}

// Whether index `uid` exists, asked of the first node that is up.
asio::awaitable<bool> index_exists(fleet::Context& ctx, const std::string& uid) {
    const auto fleet = ctx.fleet();
    const auto timeout = std::chrono::milliseconds(ctx.config.upstream.write_timeout_ms);
    for (auto slot : fleet->members()) {
        if (!ctx.health.usable(slot)) continue;
        auto answer = co_await ctx.nodes[slot]->send(
            scatter::node_request(http::Method::get, scatter::index_path(uid)), timeout);
        if (!answer || answer->status >= 500) continue;
        co_return answer->status == 200;
    }
    throw http::error(503, "miroir_no_node_available",
                      "No node answered whether index `" + uid + "` exists.",
                      http::ErrorType::system);
}

// The checks that need the nodes: the name is no index, every target is one.
asio::awaitable<void> check_indexes(fleet::Context& ctx, const Wanted& w) {
    bool taken = false;
    if (!w.name.empty()) taken = co_await index_exists(ctx, w.name);
    if (taken) {
        throw http::error(409, "miroir_alias_name_taken",
                          "`" + w.name + "` is an index: an alias cannot have its name.");
    }
    for (const auto& t : w.targets) {
        const bool exists = co_await index_exists(ctx, t);
        if (!exists) {
            throw http::error(404, "miroir_alias_target_not_found",
                              "Index `" + t + "` not found: an alias stands for indexes only.");
        }
    }
}

// The checks against the stored aliases, inside the topology change.
void check_targets(const Topology& t, const Wanted& w) {
    for (const auto& target : w.targets) {
        if (t.alias(target)) {
            throw http::error(400, "miroir_alias_target_is_alias",
                              "`" + target + "` is an alias: an alias stands for indexes only.");
        }
    }
}

http::ApiError not_found(const std::string& name) {
    return http::error(404, "miroir_alias_not_found", "Alias `" + name + "` not found.");
}

// Stores `change`, then waits until every live pod resolves with it.
asio::awaitable<std::shared_ptr<const fleet::Fleet>> change_aliases(
    fleet::Context& ctx, std::function<void(Topology&)> change) {
    auto fleet = co_await fleet::change_topology(ctx, std::move(change));
    const auto behind = co_await fleet::wait_pods_loaded(
        ctx, fleet->version(), std::chrono::milliseconds(2 * ctx.config.rebalance.lease_ms));
    for (const auto& pod : behind) {
        log::warn("alias change: a live pod has not loaded it yet",
                  {{"pod", pod}, {"version", static_cast<std::int64_t>(fleet->version())}});
    }
    co_return fleet;
}

asio::awaitable<http::Response> post_alias(fleet::Context& ctx, http::Request& r) {
    const auto w = parse_body(r, true);
    co_await check_indexes(ctx, w);
    const auto now = util::unix_ms();
    std::function<void(Topology&)> change = [&w, now](Topology& t) {
        if (t.alias(w.name)) {
            throw http::error(409, "miroir_alias_exists", "Alias `" + w.name + "` already exists.");
        }
        check_targets(t, w);
        t.aliases[w.name] = Alias{w.targets, w.multi, now, now, {{w.targets, now}}};
    };
    const auto fleet = co_await change_aliases(ctx, std::move(change));
    co_return http::respond(201, alias_json(w.name, *fleet->topology().alias(w.name)));
}

asio::awaitable<http::Response> put_alias(fleet::Context& ctx, http::Request& r) {
    const std::string name(r.param("name"));
    const auto w = parse_body(r, false);
    if (!ctx.fleet()->topology().alias(name)) throw not_found(name);
    co_await check_indexes(ctx, w);
    const auto now = util::unix_ms();
    std::function<void(Topology&)> change = [&w, &name, now](Topology& t) {
        const auto it = t.aliases.find(name);
        if (it == t.aliases.end()) throw not_found(name);
        if (it->second.multi != w.multi) {
            throw http::error(409, "miroir_alias_kind_mismatch",
                              "Alias `" + name + "` stands for " +
                                  (it->second.multi ? "several indexes: give `targets`."
                                                    : "one index: give `target`."));
        }
        check_targets(t, w);
        auto& a = it->second;
        a.targets = w.targets;
        a.updated_at = now;
        a.history.push_back({w.targets, now});
        if (a.history.size() > kHistory) a.history.erase(a.history.begin());
    };
    const auto fleet = co_await change_aliases(ctx, std::move(change));
    co_return http::respond(200, alias_json(name, *fleet->topology().alias(name)));
}

asio::awaitable<http::Response> delete_alias(fleet::Context& ctx, http::Request& r) {
    const std::string name(r.param("name"));
    std::function<void(Topology&)> change = [&name](Topology& t) {
        if (t.aliases.erase(name) == 0) throw not_found(name);
    };
    co_await change_aliases(ctx, std::move(change));
    http::Response done;
    done.status = 204;
    co_return done;
}

asio::awaitable<http::Response> get_alias(fleet::Context& ctx, http::Request& r) {
    const std::string name(r.param("name"));
    const auto fleet = ctx.fleet();
    const auto* a = fleet->topology().alias(name);
    if (!a) throw not_found(name);
    co_return http::respond(200, alias_json(name, *a));
}

asio::awaitable<http::Response> list_aliases(fleet::Context& ctx) {
    const auto fleet = ctx.fleet();
    json results = json::array();
    for (const auto& [name, a] : fleet->topology().aliases) {
        results.push_back(alias_json(name, a));
    }
    json out;
    out["results"] = std::move(results);
    out["total"] = fleet->topology().aliases.size();
    co_return http::respond(200, out);
}

}  // namespace

void add_alias_routes(http::Router& router, fleet::Context& ctx) {
    using http::Access;
    using http::Method;
    router.add(Method::get, "/_miroir/aliases", Access::admin,
               [&ctx](http::Request&) { return list_aliases(ctx); });
    router.add(Method::post, "/_miroir/aliases", Access::admin,
               [&ctx](http::Request& r) { return post_alias(ctx, r); });
    router.add(Method::get, "/_miroir/aliases/{name}", Access::admin,
               [&ctx](http::Request& r) { return get_alias(ctx, r); });
    router.add(Method::put, "/_miroir/aliases/{name}", Access::admin,
               [&ctx](http::Request& r) { return put_alias(ctx, r); });
    router.add(Method::del, "/_miroir/aliases/{name}", Access::admin,
               [&ctx](http::Request& r) { return delete_alias(ctx, r); });
}

}  // namespace miroir::admin
