// API keys: one uid on every node, values derived from Miroir's master key, and the check of
// every request made with a key (actions, indexes, expiry) as Meilisearch makes it.
#include <algorithm>
#include <numeric>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/keys.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/api_keys.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/http/tenant_token.hpp>
#include <miroir/log/log.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/node_client.hpp>
#include <miroir/util/time.hpp>
#include <miroir/util/uuid.hpp>

namespace miroir::meili {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// A key the nodes do not know (yet) is looked up again at most this often, the request waiting
// for the answer; once the copy is this old, the keys are read again in the background (a key
// changed or deleted through another Miroir), the request going on with the copy at hand: a
// slow node never holds up a request made with a known key.
constexpr std::chrono::milliseconds kMissReload{1000};
constexpr std::chrono::milliseconds kMaxAge{10000};

std::vector<std::string> strings_in(const json& list) {
    std::vector<std::string> out;
    if (!list.is_array()) return out;
    for (const auto& item : list) {
        if (item.is_string()) out.push_back(item.get<std::string>());
    }
    return out;
}

std::optional<KnownKey> known_key(const json& key) {
    if (!key.is_object() || !key.contains("uid") || !key["uid"].is_string()) return std::nullopt;
    KnownKey k;
    k.uid = key["uid"].get<std::string>();
    k.actions = strings_in(key.value("actions", json()));
    k.indexes = strings_in(key.value("indexes", json()));
    if (key.contains("expiresAt") && key["expiresAt"].is_string()) {
        k.expires_at = util::parse_date(key["expiresAt"].get<std::string>());
    }
    return k;
}

// The nodes in the order one of them is asked: configuration order, so that the keys Miroir
// lists and the keys it checks requests against come from the same node (the default keys
// each node creates at first start differ between nodes), down nodes last.
std::vector<std::size_t> one_node_order(const Context& ctx) {
    auto order = ctx.fleet()->members();
    std::stable_partition(order.begin(), order.end(), [&ctx](std::size_t n) {
        return ctx.health.state(n) != upstream::NodeState::down;
    });
    return order;
}

// The first node answer that is not a failed exchange or a 5xx.
asio::awaitable<upstream::UpstreamResponse> ask_one_node(Context& ctx,
                                                         upstream::UpstreamRequest request) {
    const auto deadline = read_deadline(ctx);
    for (const auto node : one_node_order(ctx)) {
        auto result = co_await ctx.nodes[node]->send(request, time_left(ctx, deadline));
        if (result && result->status < 500) co_return std::move(*result);
    }
    throw http::ApiError(503, "miroir_no_quorum", http::ErrorType::system,
                         "No node answered about the API keys.");
}

void require_master_key(const Context& ctx) {
    if (ctx.config.master_key.empty()) {
        throw http::error(401, "missing_master_key",
                          "Meilisearch is running without a master key. To access this API "
                          "endpoint, you must have set a master key at launch.",
                          http::ErrorType::auth);
    }
}

// A node's key object as Miroir shows it: with the value clients use against Miroir.
json shown(const Context& ctx, json key) {
    if (key.is_object() && key.contains("uid") && key["uid"].is_string() && key.contains("key")) {
        key["key"] = http::derive_key(ctx.config.master_key, key["uid"].get<std::string>());
    }
    return key;
}

asio::awaitable<bool> reload(Context& ctx) {
    auto answer =
        co_await ask_one_node(ctx, node_request(Method::get, "/keys?offset=0&limit=1000000"));
    const auto body = json::parse(answer.body, nullptr, false);
    if (answer.status != 200 || !body.is_object() || !body.contains("results")) co_return false;
    std::vector<KnownKey> keys;
    for (const auto& key : body["results"]) {
        if (auto k = known_key(key)) keys.push_back(std::move(*k));
    }
    ctx.keys.replace(keys);
    co_return true;
}

asio::awaitable<void> refresh_keys(Context& ctx) {
    try {
        co_await reload(ctx);
    } catch (const std::exception& e) {
        log::debug("API keys not read again", {{"error", e.what()}});
    }
}

// The uid a client's `{key}` path names: a key value Miroir knows, else taken as a uid.
std::string uid_named(const Context& ctx, const std::string& uid_or_key) {
    if (auto key = ctx.keys.find(uid_or_key)) return key->uid;
    return uid_or_key;
}

// 403 invalid_api_key unless `key` is unexpired and grants `action`.
void require_action(const KnownKey& key, std::string_view action) {
    const bool expired = key.expires_at && *key.expires_at <= std::chrono::system_clock::now();
    if (expired || !http::action_allows(key.actions, action)) throw http::errors::invalid_api_key();
}

// A list of names as Meilisearch's messages print them: ["a", "b"].
std::string quoted_list(const std::vector<std::string>& names) {
    std::string out = "[";
    for (const auto& n : names) out += (out.size() > 1 ? ", " : "") + json(n).dump();
    return out + "]";
}

http::ApiError forbidden(std::string message) {
    return http::ApiError(403, "invalid_api_key", http::ErrorType::auth, std::move(message));
}

// A tenant token (a JWT signed with an API key's value, on search routes): checks it and
// sets the request's tenant rules and key indexes. false: not a valid tenant token (the
// token is then tried as an API key, as Meilisearch does).
asio::awaitable<bool> check_tenant_token(Context& ctx, http::Request& r, const std::string& token) {
    std::string value;  // the signing key's value, derived once
    const auto parsed = http::verify_tenant_token(
        token, [&ctx, &value](const std::string& uid) -> std::optional<std::string> {
            value = ctx.keys.value_of(uid);
            return value;
        });
    if (!parsed) co_return false;
    auto key = ctx.keys.find(value);
    if (!key && ctx.keys.claim_reload(kMissReload)) {
        try {
            if (co_await reload(ctx)) key = ctx.keys.find(value);
        } catch (const http::ApiError&) {
        }
    }
    if (!key) co_return false;
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    http::check_tenant_expiry(*parsed, now);
    r.tenant_rules = parsed->rules;
    if (const auto& claim = ctx.config.tenant_affinity.claim; !claim.empty()) {
        const auto tenant = parsed->claims.value(claim, json());
        if (tenant.is_string()) r.tenant = tenant.get<std::string>();
    }
    if (std::find(key->indexes.begin(), key->indexes.end(), "*") == key->indexes.end()) {
        r.key_indexes = key->indexes;
    }
    if (const auto index = r.param("uid");
        !index.empty() && r.route.starts_with("/indexes/{uid}")) {
        http::check_tenant_index(parsed->rules, index, key->indexes);
    }
    require_action(*key, "search");
    co_return true;
}

http::ApiError key_not_found(const std::string& uid_or_key) {
    return http::error(404, "api_key_not_found", "API key `" + uid_or_key + "` not found.");
}

http::Response answer_with_key(const Context& ctx, unsigned status, const std::string& body) {
    return http::respond(status, shown(ctx, json::parse(body, nullptr, false)));
}

asio::awaitable<http::Response> list_keys(Context& ctx, http::Request& r) {
    require_master_key(ctx);
    std::string target = "/keys";
    if (!r.query.empty()) target += "?" + r.query;
    auto answer = co_await ask_one_node(ctx, node_request(Method::get, target));
    if (answer.status != 200) co_return http::Response::json(answer.status, answer.body);
    auto body = json::parse(answer.body, nullptr, false);
    if (body.is_object() && body.contains("results") && body["results"].is_array()) {
        for (auto& key : body["results"]) key = shown(ctx, std::move(key));
    }
    co_return http::respond(200, body);
}

asio::awaitable<http::Response> get_key(Context& ctx, http::Request& r) {
    require_master_key(ctx);
    const std::string named(r.param("key"));
    const auto uid = uid_named(ctx, named);
    auto answer =
        co_await ask_one_node(ctx, node_request(Method::get, "/keys/" + http::percent_encode(uid)));
    if (answer.status == 404) throw key_not_found(named);
    if (answer.status != 200) co_return http::Response::json(answer.status, answer.body);
    co_return answer_with_key(ctx, 200, answer.body);
}

// POST /keys: created with one uid on every node, or on none.
asio::awaitable<http::Response> create_key(Context& ctx, http::Request& r) {
    require_master_key(ctx);
    auto body = http::json_body(r);
    if (body.is_object() && (!body.contains("uid") || body["uid"].is_null())) {
        body["uid"] = util::random_uuid();
    }
    const auto fleet = ctx.fleet();  // one snapshot: the write is routed and judged on it
    auto outcomes =
        co_await fan_out(ctx, broadcast(*fleet, node_request(Method::post, "/keys", body.dump())));
    const auto created = std::count_if(outcomes.begin(), outcomes.end(), [](const auto& o) {
        return o.result && o.result->status == 201;
    });
    if (static_cast<std::size_t>(created) == outcomes.size()) {
        const auto key = json::parse(outcomes.front().result->body, nullptr, false);
        if (auto k = known_key(key)) ctx.keys.put(std::move(*k));
        co_return http::respond(201, shown(ctx, key));
    }
    // some node did not take it: take it back from the nodes that did
    if (created > 0) {
        std::vector<NodeCall> undo;
        const auto uid = body.value("uid", std::string());
        for (const auto& o : outcomes) {
            if (o.result && o.result->status == 201) {
                undo.push_back(
                    {o.node, node_request(Method::del, "/keys/" + http::percent_encode(uid))});
            }
        }
        co_await fan_out(ctx, std::move(undo));
    }
    if (const auto* refused = refusal_in(outcomes)) {
        co_return http::Response::json(refused->status, refused->body);
    }
    const auto missing = nodes_without(*ctx.fleet(), outcomes, 201);
    log::warn("API key not created: some nodes did not answer", {{"nodes", missing}});
    throw http::ApiError(503, "miroir_no_quorum", http::ErrorType::system,
                         "The API key was not created: it must exist on every node and " + missing +
                             " did not answer.");
}

// PATCH and DELETE /keys/{key}: every node; nodes that miss it are named in X-Miroir-Degraded.
asio::awaitable<http::Response> change_key(Context& ctx, http::Request& r, Method method) {
    require_master_key(ctx);
    const std::string named(r.param("key"));
    const auto uid = uid_named(ctx, named);
    const auto target = "/keys/" + http::percent_encode(uid);
    auto request = method == Method::patch ? node_request(method, target, http::json_body(r).dump())
                                           : node_request(method, target);
    const auto fleet = ctx.fleet();  // one snapshot: the write is routed and judged on it
    auto outcomes = co_await fan_out(ctx, broadcast(*fleet, request));
    const unsigned ok_status = method == Method::patch ? 200 : 204;
    const NodeOutcome* done = nullptr;
    for (const auto& o : outcomes) {
        if (o.result && o.result->status == ok_status) {
            done = &o;
            break;
        }
    }
    if (!done) {
        if (const auto* refused = refusal_in(outcomes)) {
            if (refused->status == 404) throw key_not_found(named);
            co_return http::Response::json(refused->status, refused->body);
        }
        throw http::ApiError(503, "miroir_no_quorum", http::ErrorType::system,
                             "No node answered about the API key.");
    }
    http::Response response;
    if (method == Method::patch) {
        const auto key = json::parse(done->result->body, nullptr, false);
        if (auto k = known_key(key)) ctx.keys.put(std::move(*k));
        response = http::respond(200, shown(ctx, key));
    } else {
        ctx.keys.erase(uid);
        response.status = 204;
    }
    const auto missed = nodes_without(*ctx.fleet(), outcomes, ok_status);
    if (!missed.empty()) response.headers.set("X-Miroir-Degraded", missed);
    co_return response;
}

}  // namespace

asio::awaitable<void> check_api_key(Context& ctx, http::Request& r, std::string token) {
    const auto action = r.action;  // from the route table (Router::add)
    if (action == "search") {
        const bool tenant = co_await check_tenant_token(ctx, r, token);
        if (tenant) co_return;
    }
    auto key = ctx.keys.find(token);
    if (key && ctx.keys.claim_reload(kMaxAge)) {
        asio::co_spawn(ctx.executor, refresh_keys(ctx), asio::detached);
    } else if (!key && ctx.keys.claim_reload(kMissReload)) {
        try {
            if (co_await reload(ctx)) key = ctx.keys.find(token);
        } catch (const http::ApiError&) {
            // no node answered: decide with the copy at hand
        }
    }
    if (!key || action.empty()) throw http::errors::invalid_api_key();
    const bool all_indexes =
        std::find(key->indexes.begin(), key->indexes.end(), "*") != key->indexes.end();
    if (const auto uid = r.param("uid"); !uid.empty() && r.route.starts_with("/indexes/{uid}")) {
        if (!http::index_allows(key->indexes, uid)) {
            throw forbidden("The API key cannot acces the index `" + std::string(uid) +
                            "`, authorized indexes are " + quoted_list(key->indexes) + ".");
        }
    }
    require_action(*key, action);
    if (!all_indexes) r.key_indexes = key->indexes;
}

void add_key_routes(http::Router& router, Context& ctx) {
    router.add(Method::get, "/keys", "keys.get",
               [&ctx](http::Request& r) { return list_keys(ctx, r); });
    router.add(Method::post, "/keys", "keys.create",
               [&ctx](http::Request& r) { return create_key(ctx, r); });
    router.add(Method::get, "/keys/{key}", "keys.get",
               [&ctx](http::Request& r) { return get_key(ctx, r); });
    router.add(Method::patch, "/keys/{key}", "keys.update",
               [&ctx](http::Request& r) { return change_key(ctx, r, Method::patch); });
    router.add(Method::del, "/keys/{key}", "keys.delete",
               [&ctx](http::Request& r) { return change_key(ctx, r, Method::del); });
}

}  // namespace miroir::meili
