// Instance-wide operations broadcast to every node as one Miroir task: POST /swap-indexes,
// POST /dumps, POST /snapshots.
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/meili/ttl.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/shadow.hpp>
#include <miroir/tasks/store.hpp>

namespace miroir::meili {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// The body's swaps as Meilisearch reports them in the task's details.
json swaps_of(const json& body) {
    json swaps = json::array();
    if (!body.is_array()) return swaps;
    for (const auto& entry : body) {
        if (!entry.is_object()) continue;
        json swap;
        swap["indexes"] = entry.value("indexes", json::array());
        swap["rename"] = entry.value("rename", json(false));
        swaps.push_back(std::move(swap));
    }
    return swaps;
}

// Miroir's index records follow the swap (or the rename) once the nodes accepted it: the
// documents written next are routed by the primary key of the index they now belong to.
asio::awaitable<void> swap_records(Context& ctx, const json& swaps) {
    for (const auto& swap : swaps) {
        const auto& pair = swap["indexes"];
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
            continue;
        }
        const auto a = pair[0].get<std::string>(), b = pair[1].get<std::string>();
        co_await swap_ttl(ctx, a, b);
        co_await swap_layouts(ctx, a, b);
        auto first = co_await ctx.store.index(a);
        auto second = co_await ctx.store.index(b);
        if (swap["rename"] == json(true)) {
            if (!first) continue;
            co_await ctx.store.erase_index(a);
            first->uid = b;
            co_await ctx.store.put_index(*first);
            continue;
        }
        if (!first || !second) continue;
        std::swap(first->primary_key, second->primary_key);
        co_await ctx.store.put_index(*first);
        co_await ctx.store.put_index(*second);
    }
}

asio::awaitable<http::Response> swap_indexes(Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    json details;
    details["swaps"] = swaps_of(body);
    for (const auto& swap : details["swaps"]) {
        for (const auto& uid : swap["indexes"]) {
            if (uid.is_string() && !r.index_allowed(uid.get<std::string>())) {
                throw http::errors::invalid_api_key();
            }
        }
    }
    const auto fleet = ctx.fleet();  // one snapshot: the write is routed and judged on it
    for (const auto& swap : details["swaps"]) {
        for (const auto& uid : swap["indexes"]) {
            if (uid.is_string()) refuse_while_resharded(*fleet, uid.get<std::string>(), "a swap");
        }
    }
    auto task = new_task("", "indexSwap", details, fleet->copies());
    auto outcomes = co_await fan_out(
        ctx, broadcast(*fleet, node_request(Method::post, "/swap-indexes", body.dump())));
    auto response = co_await conclude(ctx, *fleet, std::move(task), outcomes, all_shards(*fleet));
    if (response.status == 202) co_await swap_records(ctx, details["swaps"]);
    co_return response;
}

// POST /dumps and /snapshots: every node makes its own; one task follows them all.
asio::awaitable<http::Response> global_task(Context& ctx, const char* path, const char* type,
                                            json details) {
    const auto fleet = ctx.fleet();  // one snapshot: the write is routed and judged on it
    auto task = new_task("", type, details, fleet->copies());
    auto outcomes = co_await fan_out(ctx, broadcast(*fleet, node_request(Method::post, path)));
    co_return co_await conclude(ctx, *fleet, std::move(task), outcomes, all_shards(*fleet));
}

}  // namespace

void add_instance_routes(http::Router& router, Context& ctx) {
    router.add(Method::post, "/swap-indexes", "indexes.swap",
               [&ctx](http::Request& r) { return swap_indexes(ctx, r); });
    router.add(Method::post, "/dumps", "dumps.create", [&ctx](http::Request&) {
        json details;
        details["dumpUid"] = nullptr;
        return global_task(ctx, "/dumps", "dumpCreation", details);
    });
    router.add(Method::post, "/snapshots", "snapshots.create", [&ctx](http::Request&) {
        return global_task(ctx, "/snapshots", "snapshotCreation", json());
    });
}

}  // namespace miroir::meili
