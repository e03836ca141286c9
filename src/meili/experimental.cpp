// Meilisearch's experimental routes, each behind a node's experimental feature (the nodes refuse
// them with `feature_not_enabled` until it is on, and Miroir relays that):
// - POST /render-template: rendered by one node, the owner of the input document when it names
//   one;
// - POST /indexes/{uid}/compact: every node compacts its copy; one Miroir task whose sizes are
//   the fleet's;
// - /dynamic-search-rules: the rules live on every node (changes go to all of them as one Miroir
//   task), reads come from one node.
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>

namespace miroir::meili {

using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// `request` to the first node that answers, its answer relayed; `first` tried first.
asio::awaitable<http::Response> ask_one(fleet::Context& ctx, upstream::UpstreamRequest request,
                                        std::optional<std::size_t> first = std::nullopt) {
    const auto answer = co_await first_answer(ctx, std::move(request), first);
    if (answer) co_return relay_error(answer->status, answer->body);
    throw http::ApiError(503, "miroir_no_quorum", http::ErrorType::system, "No node answered.");
}

asio::awaitable<http::Response> render(fleet::Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    std::optional<std::size_t> owner;
    const auto input = body.is_object() ? body.value("input", json()) : json();
    if (input.is_object() && input.value("id", json()).is_string()) {
        // a document: asked of a node that holds it
        const auto named = input.value("indexUid", json());
        const auto fleet = ctx.fleet_of(named.is_string() ? named.get<std::string>() : "");
        const auto shard = routing::shard_of(input["id"].get<std::string>(), fleet->shards());
        for (const auto& group : fleet->groups()) {
            const auto owners = fleet->owners(group, shard);
            if (!owners.empty()) {
                owner = owners.front();
                break;
            }
        }
    }
    co_return co_await ask_one(ctx, node_request(Method::post, "/render-template", body.dump()),
                               owner);
}

// A change every node makes, as one Miroir task of `type` (the nodes' own refusal when they all
// refuse it).
asio::awaitable<http::Response> everywhere(fleet::Context& ctx, const std::string& index_uid,
                                           const char* type, upstream::UpstreamRequest request,
                                           const std::optional<std::string>& metadata,
                                           const json& details) {
    if (metadata) request.target += "?customMetadata=" + http::percent_encode(*metadata);
    const auto fleet = ctx.fleet();  // one snapshot: the change is routed and judged on it
    auto task = new_task(index_uid, type, details, fleet->copies());
    task.custom_metadata = metadata;
    auto outcomes = co_await fan_out(ctx, broadcast(*fleet, request));
    co_return co_await conclude(ctx, *fleet, std::move(task), outcomes, all_shards(*fleet));
}

asio::awaitable<http::Response> compact(fleet::Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const http::Query q(r.query, {});
    const json none = json::object();  // (a local: no braced values in co_await)
    co_return co_await everywhere(ctx, uid, "indexCompaction",
                                  node_request(Method::post, index_path(uid) + "/compact"),
                                  std::nullopt, none);
}

// The index Meilisearch names in the tasks of its rules.
constexpr const char* kRulesIndex = ".meili_dsr";

std::string rule_path(const http::Request& r) {
    return "/dynamic-search-rules/" + http::percent_encode(r.param("uid"));
}

asio::awaitable<http::Response> update_rule(fleet::Context& ctx, http::Request& r) {
    const http::Query q(r.query, {"customMetadata"});
    const auto body = http::json_body(r);
    json details;
    details["rule"] = body;
    details["updatedRules"] = 1;
    co_return co_await everywhere(ctx, kRulesIndex, "dsrUpdate",
                                  node_request(Method::patch, rule_path(r), body.dump()),
                                  q.get("customMetadata"), details);
}

asio::awaitable<http::Response> delete_rule(fleet::Context& ctx, http::Request& r) {
    const http::Query q(r.query, {"customMetadata"});
    json details;
    details["updatedRules"] = 1;
    co_return co_await everywhere(ctx, kRulesIndex, "dsrUpdate",
                                  node_request(Method::del, rule_path(r)), q.get("customMetadata"),
                                  details);
}

asio::awaitable<http::Response> clear_rules(fleet::Context& ctx, http::Request& r) {
    const http::Query q(r.query, {"customMetadata"});
    const json none = json::object();
    co_return co_await everywhere(ctx, kRulesIndex, "dsrClear",
                                  node_request(Method::del, "/dynamic-search-rules"),
                                  q.get("customMetadata"), none);
}

}  // namespace

void add_experimental_routes(http::Router& router, fleet::Context& ctx) {
    router.add(Method::post, "/render-template", "settings.get",
               [&ctx](http::Request& r) { return render(ctx, r); });
    router.add(Method::post, "/indexes/{uid}/compact", "indexes.compact",
               [&ctx](http::Request& r) { return compact(ctx, r); });
    router.add(Method::post, "/dynamic-search-rules", "dynamicSearchRules.get",
               [&ctx](http::Request& r) {
                   return ask_one(ctx, node_request(Method::post, "/dynamic-search-rules",
                                                    http::json_body(r).dump()));
               });
    router.add(
        Method::get, "/dynamic-search-rules/{uid}", "dynamicSearchRules.get",
        [&ctx](http::Request& r) { return ask_one(ctx, node_request(Method::get, rule_path(r))); });
    router.add(Method::patch, "/dynamic-search-rules/{uid}", "dynamicSearchRules.update",
               [&ctx](http::Request& r) { return update_rule(ctx, r); });
    router.add(Method::del, "/dynamic-search-rules/{uid}", "dynamicSearchRules.delete",
               [&ctx](http::Request& r) { return delete_rule(ctx, r); });
    router.add(Method::del, "/dynamic-search-rules", "dynamicSearchRules.delete",
               [&ctx](http::Request& r) { return clear_rules(ctx, r); });
}

}  // namespace miroir::meili
