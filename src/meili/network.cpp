// GET and PATCH /network as a Community Edition node answers them: Miroir's own record of the
// instance's name and remotes, kept in the task store (every pod shares it) and never sent to
// the nodes, whose network is Miroir's business. Behind the nodes' `network` experimental
// feature, as on a node; setting a leader needs the Enterprise Edition, as on a node.
#include "network.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/util/uuid.hpp>

namespace miroir::meili {

using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

constexpr const char* kTable = "network";

json initial() {
    json n;
    n["self"] = nullptr;
    n["remotes"] = json::object();
    n["shards"] = json::object();
    n["leader"] = nullptr;
    n["version"] = "00000000-0000-0000-0000-000000000000";
    return n;
}

asio::awaitable<void> check_feature(fleet::Context& ctx) {
    co_await require_network_feature(ctx, "Using the /network route");
}

http::ApiError wrong_type(const std::string& code, const std::string& at, const char* expected,
                          const json& found) {
    return http::error(400, code,
                       "Invalid value type at `" + at + "`: expected " + expected + ", but found " +
                           http::found_value(found));
}

// One remote of a PATCH merged into `remotes` (null removes it).
void patch_remote(json& remotes, const std::string& name, const json& patch) {
    const std::string at = ".remotes." + name;
    if (patch.is_null()) {
        remotes.erase(name);
        return;
    }
    if (!patch.is_object()) throw wrong_type("invalid_network_remotes", at, "an object", patch);
    static const char* const codes[][2] = {{"url", "invalid_network_url"},
                                           {"searchApiKey", "invalid_network_search_api_key"},
                                           {"writeApiKey", "invalid_network_write_api_key"}};
    json remote = remotes.value(name, json::object());
    for (const auto& [key, value] : patch.items()) {
        const char* code = nullptr;
        for (const auto& c : codes) code = key == c[0] ? c[1] : code;
        if (!code) {
            throw http::error(400, "invalid_network_remotes",
                              "Unknown field `" + key + "` inside `" + at +
                                  "`: expected one of `url`, `searchApiKey`, `writeApiKey`");
        }
        if (!value.is_string() && !value.is_null()) {
            throw wrong_type(code, at + "." + key, "a string", value);
        }
        remote[key] = value;
    }
    if (!remote.contains("url") || remote["url"].is_null()) {
        throw http::error(400, "missing_network_url", "Missing field `" + at + ".url`");
    }
    json ordered;
    ordered["url"] = remote["url"];
    ordered["searchApiKey"] = remote.value("searchApiKey", json());
    ordered["writeApiKey"] = remote.value("writeApiKey", json());
    ordered["status"] = "available";
    remotes[name] = std::move(ordered);
}

json patched(json network, const json& body) {
    if (!body.is_object()) {
        throw http::bad_request("Invalid value type: expected an object, but found " +
                                http::found_value(body));
    }
    for (const auto& [key, value] : body.items()) {
        if (key == "self") {
            if (!value.is_string() && !value.is_null()) {
                throw wrong_type("invalid_network_self", ".self", "a string", value);
            }
            network["self"] = value;
        } else if (key == "remotes") {
            if (value.is_null()) continue;
            if (!value.is_object()) {
                throw wrong_type("invalid_network_remotes", ".remotes", "an object", value);
            }
            for (const auto& [name, remote] : value.items()) {
                patch_remote(network["remotes"], name, remote);
            }
        } else if (key == "leader") {
            if (value.is_null()) continue;
            throw http::error(451, "requires_enterprise_edition",
                              "Meilisearch Enterprise Edition is required to set "
                              "`network.leader`");
        } else if (key == "shards") {
            if (value.is_object()) network["shards"] = value;
        } else if (key != "previousShards" && key != "previousRemotes") {
            throw http::bad_request("Unknown field `" + key +
                                    "`: expected one of `remotes`, `shards`, `previousShards`, "
                                    "`self`, `leader`, `previousRemotes`");
        }
    }
    network["version"] = util::random_uuid();
    return network;
}

asio::awaitable<http::Response> get_network(fleet::Context& ctx) {
    co_await check_feature(ctx);
    co_return http::respond(200, co_await network_record(ctx));
}

asio::awaitable<http::Response> patch_network(fleet::Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    // the body is checked before the feature, as a node checks it
    auto network = patched(co_await network_record(ctx), body);
    co_await check_feature(ctx);
    co_await ctx.store.put_record(kTable, "state", network.dump());
    co_return http::respond(200, network);
}

}  // namespace

asio::awaitable<void> require_feature(fleet::Context& ctx, const std::string& key,
                                      const std::string& action, const std::string& name,
                                      const std::string& link) {
    const auto answer =
        co_await first_answer(ctx, node_request(Method::get, "/experimental-features"));
    if (answer && answer->status == 200) {
        const auto features = json::parse(answer->body, nullptr, false);
        if (features.is_object() && features.value(key, false) == true) co_return;
    }
    throw http::error(
        400, "feature_not_enabled",
        action + " requires enabling the `" + name + "` experimental feature. See " + link);
}

asio::awaitable<void> require_network_feature(fleet::Context& ctx, const std::string& action) {
    co_await require_feature(ctx, "network", action, "network",
                             "https://github.com/orgs/meilisearch/discussions/805");
}

asio::awaitable<json> network_record(fleet::Context& ctx) {
    for (const auto& [key, text] : co_await ctx.store.records(kTable)) {
        if (key != "state") continue;
        auto network = json::parse(text, nullptr, false);
        if (network.is_object()) co_return network;
    }
    co_return initial();
}

void add_network_routes(http::Router& router, fleet::Context& ctx) {
    router.add(Method::get, "/network", "network.get",
               [&ctx](http::Request&) { return get_network(ctx); });
    router.add(Method::patch, "/network", "network.update",
               [&ctx](http::Request& r) { return patch_network(ctx, r); });
}

}  // namespace miroir::meili
