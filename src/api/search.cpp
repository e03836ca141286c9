// Search through Miroir: one replica group, one replica of each shard (the covering set),
// each node asked once for the first offset+limit hits with their ranking details, the hits
// merged in the order one node holding everything would give, then the client's window.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <map>

#include <miroir/api/context.hpp>
#include <miroir/api/fleet.hpp>
#include <miroir/api/routes.hpp>
#include <miroir/config/config.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/ingest/splitter.hpp>
#include <miroir/merge/order.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/util/uuid.hpp>

#include "fanout.hpp"
#include "reads.hpp"

namespace miroir::api {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

std::atomic<std::uint64_t> rotation{0};

std::uint64_t uint_or(const json& body, const char* key, std::uint64_t fallback) {
    const auto it = body.find(key);
    return it != body.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : fallback;
}

bool flag(const json& body, const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_boolean() && it->get<bool>();
}

// One facet value summed over the nodes: the first casing seen stands for every casing of the
// same normalized value.
struct FacetValue {
    std::string key;
    std::uint64_t count = 0;
    bool is_number = false;
    double number = 0;
    std::string folded;
};

bool parse_number(const std::string& s, double& out) {
    if (s.empty()) return false;
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && std::isfinite(out);
}

std::string fold(std::string_view value) {
    const auto first = value.find_first_not_of(' ');
    const auto last = value.find_last_not_of(' ');
    std::string out(first == std::string_view::npos ? std::string_view()
                                                    : value.substr(first, last - first + 1));
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Sums of one facet's values, by normalized value, in first-seen order.
class FacetSums {
  public:
    void add(const std::string& value, std::uint64_t count) {
        auto folded = fold(value);
        auto [it, inserted] = index_.try_emplace(folded, values_.size());
        if (inserted) {
            FacetValue v;
            v.key = value;
            v.is_number = parse_number(value, v.number);
            v.folded = std::move(folded);
            values_.push_back(std::move(v));
        }
        values_[it->second].count += count;
    }

    // Ordered as the faceting settings say for `field` (numbers first in numeric order, then
    // strings by their normalized form; or by count), at most maxValuesPerFacet.
    std::vector<FacetValue> ordered(const json& faceting, const std::string& field) const {
        auto values = values_;
        std::sort(values.begin(), values.end(), [](const FacetValue& a, const FacetValue& b) {
            if (a.is_number != b.is_number) return a.is_number;
            if (a.is_number) return a.number < b.number;
            return a.folded < b.folded;
        });
        const json by = faceting.value("sortFacetValuesBy", json::object());
        const std::string order = by.contains(field) ? by[field].get<std::string>()
                                  : by.contains("*") ? by["*"].get<std::string>()
                                                     : "alpha";
        if (order == "count") {
            std::stable_sort(values.begin(), values.end(), [](const auto& a, const auto& b) {
                if (a.is_number != b.is_number) return a.is_number;
                return a.count > b.count;
            });
        }
        const auto max_values = faceting.value("maxValuesPerFacet", std::uint64_t{100});
        if (values.size() > max_values) values.resize(max_values);
        return values;
    }

  private:
    std::vector<FacetValue> values_;
    std::map<std::string, std::size_t> index_;
};

// Sums the nodes' facet distributions and orders and truncates them as the index's faceting
// settings say.
json merge_facets(const std::vector<const json*>& parts, const json& faceting) {
    std::map<std::string, FacetSums> sums;
    std::vector<std::string> fields;
    for (const json* part : parts) {
        if (!part) continue;
        for (auto f = part->begin(); f != part->end(); ++f) {
            if (f.key().starts_with(ingest::kReservedPrefix)) continue;
            if (!sums.contains(f.key())) fields.push_back(f.key());
            auto& values = sums[f.key()];
            for (auto v = f.value().begin(); v != f.value().end(); ++v) {
                values.add(v.key(), v.value().get<std::uint64_t>());
            }
        }
    }
    json out = json::object();
    for (const auto& field : fields) {
        json dist = json::object();
        for (const auto& v : sums[field].ordered(faceting, field)) dist[v.key] = v.count;
        out[field] = std::move(dist);
    }
    return out;
}

json merge_facet_stats(const std::vector<const json*>& parts) {
    json out = json::object();
    for (const json* part : parts) {
        if (!part) continue;
        for (auto f = part->begin(); f != part->end(); ++f) {
            if (f.key().starts_with(ingest::kReservedPrefix)) continue;
            const double lo = f.value().value("min", 0.0);
            const double hi = f.value().value("max", 0.0);
            if (!out.contains(f.key())) {
                out[f.key()] = {{"min", lo}, {"max", hi}};
            } else {
                auto& s = out[f.key()];
                s["min"] = std::min(s["min"].get<double>(), lo);
                s["max"] = std::max(s["max"].get<double>(), hi);
            }
        }
    }
    return out;
}

// The index's faceting settings, from the first node that answers.
asio::awaitable<json> faceting_of(Context& ctx, const std::string& uid,
                                  const std::vector<Assignment>& plan) {
    for (const auto& a : plan) {
        auto r = co_await ctx.nodes[a.node]->send(
            node_request(Method::get, index_path(uid) + "/settings/faceting"),
            std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms));
        if (r && r->status == 200) co_return json::parse(r->body, nullptr, false);
    }
    co_return json::object();
}

const char* const kWindowParams[] = {"offset", "limit", "page", "hitsPerPage"};

// What the merge needs to know of the client's query.
struct Window {
    bool page_mode = false;
    std::uint64_t offset = 0, limit = 20, page = 1, hits_per_page = 20;
    bool want_score = false, want_details = false;
    std::string q;
};

// Builds one node's request for the shards it answers for.
using NodeSearch = std::function<upstream::UpstreamRequest(const Assignment&)>;

asio::awaitable<http::Response> scatter_and_merge(Context& ctx, const std::string& uid,
                                                  const Window& w, const NodeSearch& node_search);

// Every node of the plan asked at once, each with its own request.
asio::awaitable<Gathered> ask_plan(Context& ctx, const std::vector<Assignment>& plan,
                                   const NodeSearch& node_search) {
    std::vector<const Assignment*> who;
    std::vector<upstream::UpstreamRequest> requests;
    for (const auto& a : plan) {
        who.push_back(&a);
        requests.push_back(node_search(a));
    }
    co_return co_await ask_nodes(ctx, who, std::move(requests));
}

// A search given as a JSON object (POST search, one query of a multi-search).
asio::awaitable<http::Response> search_body(Context& ctx, const std::string& uid,
                                            const json& body) {
    Window w;
    w.page_mode = body.contains("page") || body.contains("hitsPerPage");
    w.offset = uint_or(body, "offset", 0);
    w.limit = uint_or(body, "limit", 20);
    w.page = uint_or(body, "page", 1);
    w.hits_per_page = uint_or(body, "hitsPerPage", 20);
    w.want_score = flag(body, "showRankingScore");
    w.want_details = flag(body, "showRankingScoreDetails");
    if (body.contains("q") && body["q"].is_string()) w.q = body["q"].get<std::string>();

    // each node: the first offset+limit hits, scored, with the details that order them; a
    // window parameter of the wrong type is left as it is, for the nodes to reject
    json node_body = body;
    const bool valid = std::all_of(
        std::begin(kWindowParams), std::end(kWindowParams),
        [&body](const char* p) { return !body.contains(p) || body[p].is_number_unsigned(); });
    if (!valid) {
        // nothing to rewrite
    } else if (w.page_mode) {
        node_body["page"] = 1;
        node_body["hitsPerPage"] = w.page * w.hits_per_page;
    } else {
        node_body["offset"] = 0;
        node_body["limit"] = w.offset + w.limit;
    }
    node_body["showRankingScore"] = true;
    node_body["showRankingScoreDetails"] = true;
    const json filter = body.value("filter", json());
    // a named local, not a temporary inside the co_await expression (GCC 12)
    const NodeSearch node_search = [&uid, node_body, filter](const Assignment& a) {
        json b = node_body;
        if (a.restricted) b["filter"] = with_shards(filter, a.shards);
        return node_request(Method::post, index_path(uid) + "/search", b.dump());
    };
    co_return co_await scatter_and_merge(ctx, uid, w, node_search);
}

asio::awaitable<http::Response> search_post(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto body = http::json_body(r);
    if (!body.is_object()) {
        throw http::error(400, "bad_request",
                          "Invalid value type: expected an object, but found " + body.dump());
    }
    co_return co_await search_body(ctx, uid, body);
}

// One query of a multi-search, as an upstream result so that gather() runs them together.
asio::awaitable<upstream::UpstreamResult> one_query(Context& ctx, std::string uid, json query) {
    auto response = co_await search_body(ctx, uid, query);
    co_return upstream::UpstreamResponse{response.status, std::move(response.headers),
                                         std::move(response.body)};
}

// POST /multi-search without federation: each query scattered and merged on its own, the
// results in the order of the queries; the first failing query fails the request, its
// message prefixed with its position, as Meilisearch reports it.
asio::awaitable<http::Response> multi_search(Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    if (!body.is_object() || !body.contains("queries") || !body["queries"].is_array()) {
        throw http::bad_request("Missing field `queries`");
    }
    if (body.contains("federation") && !body["federation"].is_null()) {
        throw http::ApiError(501, "miroir_not_implemented", http::ErrorType::invalid_request,
                             "Federated multi-search through Miroir is not available yet.");
    }
    const auto& queries = body["queries"];
    std::vector<std::string> uids;
    std::vector<asio::awaitable<upstream::UpstreamResult>> runs;
    for (std::size_t i = 0; i < queries.size(); ++i) {
        const std::string prefix = "Inside `.queries[" + std::to_string(i) + "]`: ";
        json query = queries[i];
        if (!query.is_object() || !query.contains("indexUid") || !query["indexUid"].is_string()) {
            throw http::error(400, "missing_index_uid", prefix + "Missing field `indexUid`");
        }
        const auto uid = query["indexUid"].get<std::string>();
        try {
            check_index_uid(uid);
        } catch (const http::ApiError& e) {
            throw http::ApiError(e.status(), e.code(), e.type(), prefix + e.what());
        }
        if (query.contains("federationOptions")) {
            throw http::error(400, "invalid_multi_search_federation_options",
                              prefix +
                                  "Using `federationOptions` is not allowed in a non-federated "
                                  "search.\n - Hint: remove `federationOptions` from query #" +
                                  std::to_string(i) + " or add `federation` to the request.");
        }
        query.erase("indexUid");
        uids.push_back(uid);
        runs.push_back(one_query(ctx, uid, std::move(query)));
    }
    auto answers = co_await upstream::gather(ctx.executor, std::move(runs));
    json results = json::array();
    for (std::size_t i = 0; i < answers.size(); ++i) {
        auto& a = *answers[i];
        auto parsed = json::parse(a.body, nullptr, false);
        if (a.status != 200) {
            // index_not_found is a 400 inside multi-search
            const auto code = parsed.value("code", std::string("internal"));
            const auto type = parsed.value("type", std::string("internal"));
            const unsigned status = code == "index_not_found" ? 400 : a.status;
            json error;
            error["message"] = "Inside `.queries[" + std::to_string(i) +
                               "]`: " + parsed.value("message", std::string());
            error["code"] = code;
            error["type"] = type;
            error["link"] = "https://docs.meilisearch.com/errors#" + code;
            co_return http::respond(status, error);
        }
        json one;
        one["indexUid"] = uids[i];
        for (auto it = parsed.begin(); it != parsed.end(); ++it) one[it.key()] = it.value();
        results.push_back(std::move(one));
    }
    json out;
    out["results"] = std::move(results);
    co_return http::respond(200, out);
}

// GET search: the query string goes to the nodes as a query string (so that a bad parameter
// gets the node's own message), with the window, the scores and the shard filter rewritten.
asio::awaitable<http::Response> search_get(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    std::vector<std::pair<std::string, std::string>> params;
    std::map<std::string, std::string> by_name;
    for (const auto& part : split_query(r.query)) {
        params.push_back(part);
        by_name[part.first] = part.second;
    }
    bool valid = true;
    auto number = [&](const char* name, std::uint64_t fallback) -> std::uint64_t {
        const auto it = by_name.find(name);
        if (it == by_name.end()) return fallback;
        const auto& v = it->second;
        const bool ok = !v.empty() && v.size() < 20 && std::all_of(v.begin(), v.end(), [](char c) {
            return c >= '0' && c <= '9';
        });
        valid = valid && ok;  // a bad value is left for the nodes to reject
        return ok ? std::stoull(v) : fallback;
    };
    auto boolean = [&](const char* name) {
        const auto it = by_name.find(name);
        return it != by_name.end() && (it->second == "true" || it->second == "True");
    };
    Window w;
    w.page_mode = by_name.contains("page") || by_name.contains("hitsPerPage");
    w.offset = number("offset", 0);
    w.limit = number("limit", 20);
    w.page = number("page", 1);
    w.hits_per_page = number("hitsPerPage", 20);
    w.want_score = boolean("showRankingScore");
    w.want_details = boolean("showRankingScoreDetails");
    if (by_name.contains("q")) w.q = by_name["q"];

    std::map<std::string, std::string> overrides = {{"showRankingScore", "true"},
                                                    {"showRankingScoreDetails", "true"}};
    if (!valid) {
        // nothing to rewrite
    } else if (w.page_mode) {
        overrides["page"] = "1";
        overrides["hitsPerPage"] = std::to_string(w.page * w.hits_per_page);
    } else {
        overrides["offset"] = "0";
        overrides["limit"] = std::to_string(w.offset + w.limit);
    }
    const std::optional<std::string> filter =
        by_name.contains("filter") ? std::optional(by_name["filter"]) : std::nullopt;
    const NodeSearch node_search = [&uid, params, overrides, filter](const Assignment& a) {
        auto set = overrides;
        if (a.restricted) set["filter"] = with_shards_param(filter, a.shards);
        std::vector<std::pair<std::string, std::string>> query;
        for (const auto& [k, v] : params) {
            if (!set.contains(k)) query.emplace_back(k, v);
        }
        for (const auto& [k, v] : set) query.emplace_back(k, v);
        const std::string target = index_path(uid) + "/search?" + join_query(query);
        return node_request(Method::get, target);
    };
    co_return co_await scatter_and_merge(ctx, uid, w, node_search);
}

asio::awaitable<http::Response> scatter_and_merge(Context& ctx, const std::string& uid,
                                                  const Window& w, const NodeSearch& node_search) {
    const bool page_mode = w.page_mode;
    const auto offset = w.offset, limit = w.limit, page = w.page, hits_per_page = w.hits_per_page;
    const bool want_score = w.want_score, want_details = w.want_details;

    const auto plan = covering_set(ctx.fleet, rotation++);
    auto gathered = co_await ask_plan(ctx, plan, node_search);
    if (gathered.refusal) co_return std::move(*gathered.refusal);
    check_unavailable(ctx, uid, gathered.missing);
    auto& answers = gathered.answers;

    // merge
    std::vector<json*> lists;  // each node's hits
    std::uint64_t total = 0;
    std::uint64_t processing = 0;
    const json* first = nullptr;
    std::vector<const json*> distributions, stats;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        auto& a = answers[i];
        if (a.is_null()) continue;
        if (!first) first = &a;
        total += uint_or(a, page_mode ? "totalHits" : "estimatedTotalHits", 0);
        processing = std::max(processing, uint_or(a, "processingTimeMs", 0));
        if (a.contains("facetDistribution")) distributions.push_back(&a["facetDistribution"]);
        if (a.contains("facetStats")) stats.push_back(&a["facetStats"]);
        if (a.contains("hits")) lists.push_back(&a["hits"]);
    }

    // each node's hits are already in its rank order: a k-way merge up to the window's end
    const std::uint64_t from = page_mode ? (page > 0 ? (page - 1) * hits_per_page : 0) : offset;
    const std::uint64_t count = page_mode ? (page > 0 ? hits_per_page : 0) : limit;
    const auto merged =
        merge::merge_ordered(std::vector<const json*>(lists.begin(), lists.end()), from + count);
    json out_hits = json::array();
    for (std::uint64_t i = from; i < merged.size(); ++i) {
        json& hit = (*lists[merged[i].first])[merged[i].second];
        strip_reserved(hit);
        if (hit.contains("_formatted") && hit["_formatted"].is_object()) {
            strip_reserved(hit["_formatted"]);
        }
        if (!want_score) hit.erase("_rankingScore");
        if (!want_details) hit.erase("_rankingScoreDetails");
        out_hits.push_back(std::move(hit));
    }

    json out;
    out["hits"] = std::move(out_hits);
    out["query"] = first ? first->value("query", json(w.q)) : json(w.q);
    out["processingTimeMs"] = processing;
    if (page_mode) {
        out["hitsPerPage"] = hits_per_page;
        out["page"] = page;
        out["totalPages"] =
            hits_per_page ? (total + hits_per_page - 1) / hits_per_page : std::uint64_t{0};
        out["totalHits"] = total;
    } else {
        out["limit"] = limit;
        out["offset"] = offset;
        out["estimatedTotalHits"] = total;
    }
    if (first && first->contains("facetDistribution")) {
        out["facetDistribution"] =
            merge_facets(distributions, co_await faceting_of(ctx, uid, plan));
    }
    if (first && first->contains("facetStats")) out["facetStats"] = merge_facet_stats(stats);
    out["requestUid"] = util::random_uuid();
    if (first && first->contains("semanticHitCount")) {
        std::uint64_t semantic = 0;
        for (const auto& a : answers) {
            if (!a.is_null()) semantic += uint_or(a, "semanticHitCount", 0);
        }
        out["semanticHitCount"] = semantic;
    }
    auto response = http::respond(200, out);
    mark_degraded(response, std::move(gathered.missing));
    co_return response;
}

// POST facet-search: every node's facet hits for the shards it answers for, counts summed per
// normalized value, ordered and truncated by the index's faceting settings.
asio::awaitable<http::Response> facet_search(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto body = http::json_body(r);
    const auto plan = covering_set(ctx.fleet, rotation++);
    const bool object = body.is_object();
    const NodeSearch node_search = [&uid, &body, object](const Assignment& a) {
        json b = body;
        if (object && a.restricted)
            b["filter"] = with_shards(body.value("filter", json()), a.shards);
        return node_request(Method::post, index_path(uid) + "/facet-search", b.dump());
    };
    auto gathered = co_await ask_plan(ctx, plan, node_search);
    if (gathered.refusal) co_return std::move(*gathered.refusal);
    check_unavailable(ctx, uid, gathered.missing);

    FacetSums sums;
    std::uint64_t processing = 0;
    json query;
    for (const auto& a : gathered.answers) {
        if (a.is_null()) continue;
        processing = std::max(processing, uint_or(a, "processingTimeMs", 0));
        query = a.value("facetQuery", json());
        for (const auto& hit : a.value("facetHits", json::array())) {
            sums.add(hit.value("value", std::string()), hit.value("count", std::uint64_t{0}));
        }
    }
    const auto field = body.value("facetName", json()).is_string()
                           ? body["facetName"].get<std::string>()
                           : std::string();
    json hits = json::array();
    for (const auto& v : sums.ordered(co_await faceting_of(ctx, uid, plan), field)) {
        json hit;
        hit["value"] = v.key;
        hit["count"] = v.count;
        hits.push_back(std::move(hit));
    }
    json out;
    out["facetHits"] = std::move(hits);
    out["facetQuery"] = query;
    out["processingTimeMs"] = processing;
    auto response = http::respond(200, out);
    mark_degraded(response, std::move(gathered.missing));
    co_return response;
}

// The embedding the similar route compares with: the reference document's first vector for
// `embedder`, from an owner of its shard; null when no owner has it.
asio::awaitable<json> reference_vector(Context& ctx, const std::string& uid, const json& id,
                                       const std::string& embedder) {
    const std::string key = id.is_string() ? id.get<std::string>() : id.dump();
    const auto shard = routing::shard_of(key, ctx.fleet.shards());
    const std::string target =
        index_path(uid) + "/documents/" + http::percent_encode(key) + "?retrieveVectors=true";
    for (const auto& group : ctx.fleet.groups()) {
        for (auto node : ctx.fleet.owners(group, shard)) {
            auto result = co_await ctx.nodes[node]->send(
                node_request(Method::get, target),
                std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms));
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
    const auto plan = covering_set(ctx.fleet, rotation++);
    const bool valid =
        body.is_object() && body.contains("id") && body.value("embedder", json()).is_string() &&
        std::all_of(
            std::begin(kWindowParams), std::begin(kWindowParams) + 2,
            [&body](const char* p) { return !body.contains(p) || body[p].is_number_unsigned(); });
    json key = valid ? body["id"] : json();
    const auto owner_shard =
        valid ? routing::shard_of(key.is_string() ? key.get<std::string>() : key.dump(),
                                  ctx.fleet.shards())
              : 0;
    const std::uint64_t offset = valid ? uint_or(body, "offset", 0) : 0;
    const std::uint64_t limit = valid ? uint_or(body, "limit", 20) : 20;
    const bool want_score = valid && flag(body, "showRankingScore");
    const bool want_details = valid && flag(body, "showRankingScoreDetails");
    json vector;
    if (valid && plan.size() > 1) {
        vector = co_await reference_vector(ctx, uid, key, body["embedder"].get<std::string>());
    }
    const NodeSearch node_search = [&](const Assignment& a) {
        const bool owner =
            std::find(a.shards.begin(), a.shards.end(), owner_shard) != a.shards.end();
        if (!valid || owner || vector.is_null()) {
            json b = body;
            if (valid) {
                b["offset"] = 0;
                b["limit"] = offset + limit;
                b["showRankingScore"] = true;
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
        for (const char* k :
             {"filter", "attributesToRetrieve", "retrieveVectors", "rankingScoreThreshold"}) {
            if (body.contains(k)) b[k] = body[k];
        }
        if (a.restricted) b["filter"] = with_shards(body.value("filter", json()), a.shards);
        b["offset"] = 0;
        b["limit"] = offset + limit;
        b["showRankingScore"] = true;
        return node_request(Method::post, index_path(uid) + "/search", b.dump());
    };
    // the owner first: its refusal is the one Meilisearch would give; the owner alone when
    // there is no reference vector to search with
    std::vector<Assignment> asked = plan;
    const auto others = std::stable_partition(asked.begin(), asked.end(), [&](const Assignment& a) {
        return std::find(a.shards.begin(), a.shards.end(), owner_shard) != a.shards.end();
    });
    if (!valid || vector.is_null()) asked.erase(others, asked.end());
    auto gathered = co_await ask_plan(ctx, asked, node_search);
    if (gathered.refusal) co_return std::move(*gathered.refusal);
    check_unavailable(ctx, uid, gathered.missing);

    struct Entry {
        double score;
        json* hit;
    };
    std::vector<Entry> entries;
    std::uint64_t total = 0, processing = 0;
    for (auto& a : gathered.answers) {
        if (a.is_null() || !a.contains("hits")) continue;
        total += uint_or(a, "estimatedTotalHits", 0);
        processing = std::max(processing, uint_or(a, "processingTimeMs", 0));
        for (auto& hit : a["hits"]) entries.push_back({hit.value("_rankingScore", 0.0), &hit});
    }
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& x, const Entry& y) { return x.score > y.score; });
    json hits = json::array();
    for (std::uint64_t i = offset; i < entries.size() && i < offset + limit; ++i) {
        json& hit = *entries[i].hit;
        strip_reserved(hit);
        hit.erase("_rankingScore");
        hit.erase("_rankingScoreDetails");
        if (want_score) hit["_rankingScore"] = entries[i].score;
        if (want_details) {
            json sort;
            sort["order"] = 0;
            sort["similarity"] = entries[i].score;
            hit["_rankingScoreDetails"] = json::object({{"vectorSort", sort}});
        }
        hits.push_back(std::move(hit));
    }
    json out;
    out["hits"] = std::move(hits);
    out["id"] = key.is_string() ? key.get<std::string>() : key.dump();
    out["processingTimeMs"] = processing;
    out["limit"] = limit;
    out["offset"] = offset;
    out["estimatedTotalHits"] = total;
    auto response = http::respond(200, out);
    mark_degraded(response, std::move(gathered.missing));
    co_return response;
}

asio::awaitable<http::Response> similar_post(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto body = http::json_body(r);
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
    co_return co_await similar_body(ctx, uid, body);
}

}  // namespace

void add_search_routes(http::Router& router, Context& ctx) {
    router.add(Method::post, "/indexes/{uid}/search", http::Access::client,
               [&ctx](http::Request& r) { return search_post(ctx, r); });
    router.add(Method::get, "/indexes/{uid}/search", http::Access::client,
               [&ctx](http::Request& r) { return search_get(ctx, r); });
    router.add(Method::post, "/indexes/{uid}/facet-search", http::Access::client,
               [&ctx](http::Request& r) { return facet_search(ctx, r); });
    router.add(Method::post, "/indexes/{uid}/similar", http::Access::client,
               [&ctx](http::Request& r) { return similar_post(ctx, r); });
    router.add(Method::get, "/indexes/{uid}/similar", http::Access::client,
               [&ctx](http::Request& r) { return similar_get(ctx, r); });
    router.add(Method::post, "/multi-search", http::Access::client,
               [&ctx](http::Request& r) { return multi_search(ctx, r); });
}

}  // namespace miroir::api
