// Similar documents through Miroir: the node answering for the reference document's shard runs
// the similar query itself, the others a vector search with the reference's embedding; the hits
// merged by similarity (merge::similar_answer).
#include <algorithm>
#include <atomic>
#include <chrono>

#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/merge/search.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/search.hpp>
#include <miroir/upstream/gather.hpp>

#include "route.hpp"
#include "search.hpp"

namespace miroir::meili {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

std::atomic<std::uint64_t> rotation{0};  // spreads similar queries over the replicas

const char* const kWindowParams[] = {"offset", "limit"};

// The embedding the similar route compares with: the reference document's first vector for
// `embedder`, from an owner of its shard; null when no owner has it.
asio::awaitable<json> reference_vector(Context& ctx, const Fleet& fleet, const std::string& uid,
                                       const json& id, const std::string& embedder) {
    const std::string key = id.is_string() ? id.get<std::string>() : id.dump();
    const auto shard = routing::shard_of(key, fleet.shards());
    const std::string target =
        index_path(uid) + "/documents/" + http::percent_encode(key) + "?retrieveVectors=true";
    const auto deadline = read_deadline(ctx);
    for (const auto& group : fleet.groups()) {
        for (auto node : fleet.owners(group, shard)) {
            auto result = co_await ctx.nodes[node]->send(node_request(Method::get, target),
                                                         time_left(ctx, deadline));
            if (!result || result->status >= 500) continue;
            if (result->status != 200) co_return json();
            const auto doc = json::parse(result->body, nullptr, false);
            const json vectors =
                doc.is_object() ? doc.value("_vectors", json::object()) : json::object();
            const json mine = vectors.is_object() ? vectors.value(embedder, json()) : json();
            const json embeddings =
                mine.is_object() ? mine.value("embeddings", json::array()) : json::array();
            if (embeddings.is_array() && !embeddings.empty()) co_return embeddings[0];
            co_return json();
        }
    }
    co_return json();
}

// POST similar: the node answering for the reference document's shard runs the similar query
// itself (and so checks it as Meilisearch does); the other nodes run a vector search with the
// reference document's embedding. Hits merged by similarity.
asio::awaitable<http::Response> similar_body(Context& ctx, const std::string& uid,
                                             const json& body) {
    const auto started = std::chrono::steady_clock::now();
    const auto fleet = ctx.fleet_of(uid);  // one snapshot for the whole request
    const auto plan = covering_set(ctx, *fleet, rotation++);
    const bool valid =
        body.is_object() && body.contains("id") && body.value("embedder", json()).is_string() &&
        std::all_of(std::begin(kWindowParams), std::end(kWindowParams), [&body](const char* p) {
            return !body.contains(p) || body[p].is_number_unsigned();
        });
    json key = valid ? body["id"] : json();
    const auto owner_shard =
        valid ? routing::shard_of(key.is_string() ? key.get<std::string>() : key.dump(),
                                  fleet->shards())
              : 0;
    const std::uint64_t offset = valid ? uint_or(body, "offset", 0) : 0;
    const std::uint64_t limit = valid ? uint_or(body, "limit", 20) : 20;
    const bool want_score = valid && flag(body, "showRankingScore");
    const bool want_details = valid && flag(body, "showRankingScoreDetails");
    json vector;
    if (valid && plan.size() > 1) {
        vector =
            co_await reference_vector(ctx, *fleet, uid, key, body["embedder"].get<std::string>());
    }
    const NodeSearch node_search = [&](const Assignment& a, std::uint64_t, const SearchExtras&) {
        const bool owner =
            std::find(a.shards.begin(), a.shards.end(), owner_shard) != a.shards.end();
        if (!valid || owner || vector.is_null()) {
            json b = body;
            if (valid) {
                b["offset"] = 0;
                b["limit"] = offset + limit;
                b["showRankingScore"] = true;
                retrieve_place(b);
                if (a.restricted) b["filter"] = with_shards(body.value("filter", json()), a.shards);
            }
            return node_request(Method::post, index_path(uid) + "/similar", b.dump());
        }
        json b = json::object();
        b["vector"] = vector;
        json hybrid;
        hybrid["embedder"] = body["embedder"];
        hybrid["semanticRatio"] = 1.0;
        b["hybrid"] = std::move(hybrid);
        for (const char* k : {"filter", "attributesToRetrieve", "retrieveVectors",
                              "rankingScoreThreshold", "showPerformanceDetails"}) {
            if (body.contains(k)) b[k] = body[k];
        }
        if (a.restricted) b["filter"] = with_shards(body.value("filter", json()), a.shards);
        b["offset"] = 0;
        b["limit"] = offset + limit;
        b["showRankingScore"] = true;
        retrieve_place(b);
        return node_request(Method::post, index_path(uid) + "/search", b.dump());
    };
    // the owner first: its refusal is the one Meilisearch would give; the owner alone when
    // there is no reference vector to search with
    std::vector<Assignment> asked = plan;
    const auto others = std::stable_partition(asked.begin(), asked.end(), [&](const Assignment& a) {
        return std::find(a.shards.begin(), a.shards.end(), owner_shard) != a.shards.end();
    });
    if (!valid || vector.is_null()) asked.erase(others, asked.end());
    auto gathered = co_await ask_plan(ctx, fleet, read_deadline(ctx), asked, node_search);
    if (gathered.refusal) co_return std::move(*gathered.refusal);
    check_unavailable(ctx, uid, gathered.missing);

    const merge::SimilarAsk ask{offset, limit, want_score, want_details,
                                key.is_string() ? key.get<std::string>() : key.dump()};
    const auto gathered_at = std::chrono::steady_clock::now();
    auto out = merge::similar_answer(ask, gathered.answers);
    if (valid && flag(body, "showPerformanceDetails")) {
        add_performance(out, *fleet, gathered.asked, gathered.answers, started, gathered_at);
    }
    co_return respond_partial(out, std::move(gathered.missing));
}

asio::awaitable<http::Response> similar_post(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    auto body = http::json_body(r);
    apply_read_rules(ctx, r, uid, body);
    co_return co_await similar_body(ctx, uid, body);
}

// GET similar: the same query from query-string parameters.
asio::awaitable<http::Response> similar_get(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const http::Query q(r.query, {"id", "embedder", "offset", "limit", "filter",
                                  "attributesToRetrieve", "retrieveVectors", "showRankingScore",
                                  "showRankingScoreDetails", "rankingScoreThreshold"});
    json body = json::object();
    for (const char* k : {"id", "embedder", "filter"}) {
        if (auto v = q.get(k)) body[k] = *v;
    }
    for (const char* k : {"offset", "limit"}) {
        if (auto v = q.get_uint(k, std::string("invalid_similar_") + k)) body[k] = *v;
    }
    for (const char* k : {"retrieveVectors", "showRankingScore", "showRankingScoreDetails"}) {
        if (auto v = q.get_bool(k, "bad_request")) body[k] = *v;
    }
    if (auto v = q.get("attributesToRetrieve")) body["attributesToRetrieve"] = http::split_csv(*v);
    if (auto v = q.get("rankingScoreThreshold")) {
        char* end = nullptr;
        const double threshold = std::strtod(v->c_str(), &end);
        if (v->empty() || end != v->c_str() + v->size()) {
            throw http::error(400, "invalid_similar_ranking_score_threshold",
                              "Invalid value in parameter `rankingScoreThreshold`: could not "
                              "parse `" +
                                  *v + "` as a float.");
        }
        body["rankingScoreThreshold"] = threshold;
    }
    apply_read_rules(ctx, r, uid, body);
    co_return co_await similar_body(ctx, uid, body);
}

}  // namespace

void add_similar_routes(http::Router& router, Context& ctx) {
    router.add(Method::post, "/indexes/{uid}/similar", "search",
               [&ctx](http::Request& r) { return similar_post(ctx, r); });
    router.add(Method::get, "/indexes/{uid}/similar", "search",
               [&ctx](http::Request& r) { return similar_get(ctx, r); });
}

}  // namespace miroir::meili
