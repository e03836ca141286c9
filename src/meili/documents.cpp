// Reading documents through Miroir: one by id (from an owner of its shard), and the browse
// routes (GET /documents, POST /documents/fetch) over a covering set.
//
// A browse has one global order whatever replica answers, the order one node would give:
// without `sort`, the index's insertion order (the nodes' lists, each in its own insertion
// order, interleaved by the documents' `_miroir_ord`); with `sort`, the nodes' answers merged by
// the sort values, ties in insertion order. A page after the first asks every node for the
// places of the documents before it, then each node for its share of the page.
#include <algorithm>
#include <functional>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/meili/ttl.hpp>
#include <miroir/merge/order.hpp>
#include <miroir/merge/search.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/upstream/gather.hpp>

#include "route.hpp"

namespace miroir::meili {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// `useNetwork` asks Meilisearch's experimental network search, which a node refuses unless the
// feature is on; Miroir's nodes never have it.
void reject_use_network(bool given) {
    if (!given) return;
    throw http::error(400, "feature_not_enabled",
                      "passing `useNetwork` in a search query requires enabling the `network` "
                      "experimental feature. See "
                      "https://github.com/orgs/meilisearch/discussions/805");
}

// Whether a client's `fields` parameter names `_miroir_expires_at`.
bool names_expiry(const std::optional<std::string>& fields) {
    if (!fields) return false;
    const auto names = http::split_csv(*fields);
    return std::find(names.begin(), names.end(), routing::kExpiresField) != names.end();
}

// A GET of one document's query string as a node gets it: with `_miroir_expires_at` among its
// `fields` when the index has TTL (whether it expired is read from it).
std::string one_document_query(std::string_view raw, bool ttl) {
    if (raw.empty()) return "";
    if (!ttl) return "?" + std::string(raw);
    auto params = http::split_query(raw);
    for (auto& [k, v] : params) {
        if (k != "fields") continue;
        auto names = http::split_csv(v);
        if (std::find(names.begin(), names.end(), "*") != names.end()) continue;
        names.emplace_back(routing::kExpiresField);
        v = http::join_csv(names);
    }
    return "?" + http::join_query(params);
}

// GET one document: an owner of its shard, chosen as reads choose (hedged when slow, another
// owner when it does not answer).
asio::awaitable<http::Response> get_document(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const std::string id(r.param("id"));
    const http::Query q(r.query, {"fields", "retrieveVectors", "useNetwork"});
    reject_use_network(q.has("useNetwork"));
    const auto fleet = ctx.fleet_of(uid);
    const auto shard = routing::shard_of(id, fleet->shards());
    std::string target = index_path(uid) + "/documents/" + http::percent_encode(id);
    const bool keep_expiry = names_expiry(q.get("fields"));
    target += one_document_query(r.query, fleet->topology().ttl_of(uid) != nullptr);
    const std::vector<std::uint32_t> shards = {shard};
    auto plan = replacements(ctx, *fleet, shards, {});
    if (plan.empty()) {  // no owner is up: ask one anyway, it may have come back
        const auto owners = fleet->owners(fleet->written_groups().front(), shard);
        if (!owners.empty()) plan.push_back({owners.front(), shards, true});
    }
    const BuildRequest build = [&target](const Assignment&) {
        return node_request(Method::get, target);
    };
    auto gathered = co_await ask_with_retry(ctx, fleet, read_deadline(ctx), plan, build);
    if (gathered.refusal) co_return std::move(*gathered.refusal);
    for (auto& doc : gathered.answers) {
        if (doc.is_null()) continue;
        if (expired(fleet->topology(), uid, doc)) {
            throw http::error(404, "document_not_found", "Document `" + id + "` not found.");
        }
        merge::strip_reserved(doc, keep_expiry);
        co_return http::respond(200, doc);
    }
    throw http::ApiError(
        503, "miroir_shard_unavailable", http::ErrorType::system,
        "No replica of shard " + std::to_string(shard) + " of index `" + uid + "` answered.");
}

// What a node's part of a browse returns of each document: the fields the client asked for
// (with the document's place), or its place alone.
enum class Fields { client, places };

// One node's part of a browse: its window, and the shard filter when it is restricted.
using NodeBrowse = std::function<upstream::UpstreamRequest(const Assignment&, std::uint64_t offset,
                                                           std::uint64_t limit, Fields fields)>;

struct Browse {
    bool keep_expiry = false;  // the client names `_miroir_expires_at` among its fields
    std::uint64_t offset = 0;
    std::uint64_t limit = 20;
    bool window_valid = true;  // offset and limit are numbers Miroir could read
    std::vector<std::string> sort;
};

// A step of the sort order for a document: its value of `field`, as Meilisearch compares
// sort values (numbers, then strings case-insensitively, then missing values).
merge::Step sort_step(const json& doc, const std::string& rule) {
    merge::Step step;
    step.kind = merge::Step::Kind::value;
    const auto colon = rule.rfind(':');
    const std::string field = rule.substr(0, colon);
    step.asc = colon == std::string::npos || rule.substr(colon + 1) != "desc";
    const json* v = merge::field_at(doc, field);
    if (v && v->is_number()) {
        step.value_class = 0;
        step.number = v->get<double>();
    } else if (v && v->is_string()) {
        step.value_class = 1;
        step.text = v->get<std::string>();
        std::transform(step.text.begin(), step.text.end(), step.text.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    } else if (v && v->is_boolean()) {
        step.value_class = 1;
        step.text = v->get<bool>() ? "true" : "false";
    }
    return step;
}

struct Part {
    const Assignment* node;
    std::uint64_t offset, limit;
};

// Answers without a list of documents are no answer.
void keep_results(Gathered& gathered) {
    for (std::size_t i = 0; i < gathered.answers.size(); ++i) {
        auto& a = gathered.answers[i];
        if (a.is_object() && !(a.contains("results") && a["results"].is_array())) {
            const auto& shards =
                gathered.asked.empty() ? std::vector<std::uint32_t>{} : gathered.asked[i].shards;
            gathered.missing.insert(gathered.missing.end(), shards.begin(), shards.end());
            a = json();
        }
    }
}

// Asks each part at once (no retry: a part's window belongs to its node).
asio::awaitable<Gathered> ask(Context& ctx, Deadline deadline, const std::vector<Part>& parts,
                              const NodeBrowse& node_browse) {
    std::vector<const Assignment*> who;
    std::vector<upstream::UpstreamRequest> requests;
    for (const auto& p : parts) {
        who.push_back(p.node);
        requests.push_back(node_browse(*p.node, p.offset, p.limit, Fields::client));
    }
    auto gathered = co_await ask_nodes(ctx, deadline, who, std::move(requests));
    keep_results(gathered);
    co_return gathered;
}

// Every node's first offset+limit documents merged by the sort values (equal values keep node
// order), cut to the window.
std::vector<json> sorted_window(std::vector<json>& answers, const Browse& b) {
    struct Entry {
        merge::RankKey key;
        json* doc;
        std::optional<routing::Ord> place;
    };
    std::vector<Entry> entries;
    for (auto& a : answers) {
        if (a.is_null()) continue;
        for (auto& doc : a["results"]) {
            Entry e{{}, &doc, merge::place_of(doc)};
            for (const auto& rule : b.sort) e.key.steps.push_back(sort_step(doc, rule));
            entries.push_back(std::move(e));
        }
    }
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& x, const Entry& y) {
        if (const int c = merge::compare(x.key, y.key); c != 0) return c < 0;
        return merge::compare_places(x.place, y.place) < 0;
    });
    std::vector<json> window;
    for (std::uint64_t i = b.offset; i < entries.size() && i < b.offset + b.limit; ++i) {
        window.push_back(std::move(*entries[i].doc));
    }
    return window;
}

// The first `take` documents of the nodes' lists interleaved in insertion order, as (answer,
// position) pairs.
std::vector<std::pair<std::size_t, std::size_t>> in_place_order(const std::vector<json>& answers,
                                                                std::uint64_t take) {
    std::vector<const json*> lists;
    for (const auto& a : answers) lists.push_back(a.is_null() ? nullptr : &a["results"]);
    return merge::merge_ordered(lists, take);
}

// The window of a browse without `sort` at an offset: every node's places up to its end, then
// each node's share of the window. Returns the window's documents; missing shards are added
// to `asked`, a node's refusal is left in `refusal`.
asio::awaitable<std::vector<json>> unsorted_window(Context& ctx, Deadline deadline, Gathered& asked,
                                                   const Browse& b, const NodeBrowse& node_browse,
                                                   std::optional<http::Response>& refusal) {
    const auto order = in_place_order(asked.answers, b.offset + b.limit);
    std::vector<std::uint64_t> skip(asked.answers.size(), 0), take(asked.answers.size(), 0);
    for (std::size_t i = 0; i < order.size(); ++i) {
        ++(i < b.offset ? skip : take)[order[i].first];
    }
    std::vector<Part> second;
    for (std::size_t i = 0; i < asked.asked.size(); ++i) {
        if (take[i] > 0) second.push_back({&asked.asked[i], skip[i], take[i]});
    }
    std::vector<json> window;
    if (second.empty()) co_return window;
    auto more = co_await ask(ctx, deadline, second, node_browse);
    if (more.refusal) {
        refusal = std::move(more.refusal);
        co_return window;
    }
    asked.missing.insert(asked.missing.end(), more.missing.begin(), more.missing.end());
    for (const auto& [list, position] : in_place_order(more.answers, b.limit)) {
        window.push_back(std::move(more.answers[list]["results"][position]));
    }
    co_return window;
}

asio::awaitable<http::Response> browse(Context& ctx, const std::string& uid, const Browse& b,
                                       const NodeBrowse& node_browse) {
    // the same covering set every time: the order of the pages depends on it
    const auto fleet = ctx.fleet_of(uid);  // one snapshot for the whole request
    const auto plan = covering_set(ctx, *fleet, 0, true);
    const auto deadline = read_deadline(ctx);
    if (!b.window_valid) {
        // the node rejects the window as Meilisearch does
        const std::vector<Part> parts = {{&plan.front(), b.offset, b.limit}};
        const auto asked = co_await ask(ctx, deadline, parts, node_browse);
        if (asked.refusal) co_return *asked.refusal;
        throw http::ApiError(503, "miroir_shard_unavailable", http::ErrorType::system,
                             "No node of index `" + uid + "` answered.");
    }
    const std::uint64_t end = b.offset + b.limit;
    const bool two_rounds = b.sort.empty() && b.offset > 0;
    // the first round goes to other replicas for a node that does not answer
    const BuildRequest first = [&node_browse, two_rounds, end](const Assignment& a) {
        return node_browse(a, 0, end, two_rounds ? Fields::places : Fields::client);
    };
    auto asked = co_await ask_with_retry(ctx, fleet, deadline, plan, first, false);
    keep_results(asked);
    if (asked.refusal) co_return *asked.refusal;

    std::uint64_t total = 0;
    for (const auto& a : asked.answers) {
        if (!a.is_null()) total += a.value("total", std::uint64_t{0});
    }
    std::vector<json> window;
    if (!b.sort.empty()) {
        window = sorted_window(asked.answers, b);
    } else if (!two_rounds) {
        for (const auto& [list, position] : in_place_order(asked.answers, b.limit)) {
            window.push_back(std::move(asked.answers[list]["results"][position]));
        }
    } else {
        std::optional<http::Response> refusal;
        window = co_await unsorted_window(ctx, deadline, asked, b, node_browse, refusal);
        if (refusal) co_return std::move(*refusal);
    }
    check_unavailable(ctx, uid, asked.missing);

    json results = json::array();
    for (auto& doc : window) {
        if (doc.is_object()) merge::strip_reserved(doc, b.keep_expiry);
        results.push_back(std::move(doc));
    }
    json out;
    out["results"] = std::move(results);
    out["offset"] = b.offset;
    out["limit"] = b.limit;
    out["total"] = total;
    co_return respond_partial(out, std::move(asked.missing));
}

asio::awaitable<http::Response> list_documents(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const http::Query q(r.query, {"offset", "limit", "fields", "retrieveVectors", "ids", "filter",
                                  "sort", "useNetwork"});
    reject_use_network(q.has("useNetwork"));
    Browse b;
    b.offset = q.get_uint("offset", "invalid_document_offset").value_or(0);
    b.limit = q.get_uint("limit", "invalid_document_limit").value_or(20);
    if (auto sort = q.get("sort")) b.sort = http::split_csv(*sort);
    b.keep_expiry = names_expiry(q.get("fields"));
    const auto params = http::split_query(r.query);
    const auto filter = hide_expired(ctx.fleet()->topology(), uid, q.get("filter"));
    const NodeBrowse node_browse = [&uid, params, filter](const Assignment& a, std::uint64_t offset,
                                                          std::uint64_t limit, Fields fields) {
        std::vector<std::pair<std::string, std::string>> query;
        for (const auto& [k, v] : params) {
            if (k == "offset" || k == "limit" || k == "filter") continue;
            if (k == "fields" || k == "retrieveVectors") {
                if (fields == Fields::places) continue;
                if (k == "fields") {
                    auto names = http::split_csv(v);
                    routing::add_place(names);
                    query.emplace_back(k, http::join_csv(names));
                    continue;
                }
            }
            query.emplace_back(k, v);
        }
        if (fields == Fields::places) query.emplace_back("fields", routing::kOrdField);
        query.emplace_back("offset", std::to_string(offset));
        query.emplace_back("limit", std::to_string(limit));
        if (a.restricted) {
            query.emplace_back("filter", with_shards_param(filter, a.shards));
        } else if (filter) {
            query.emplace_back("filter", *filter);
        }
        return node_request(Method::get, index_path(uid) + "/documents?" + http::join_query(query));
    };
    co_return co_await browse(ctx, uid, b, node_browse);
}

asio::awaitable<http::Response> fetch_documents(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    auto body = http::json_body(r);
    hide_expired(ctx.fleet()->topology(), uid, body);
    Browse b;
    if (body.is_object()) {
        auto window_param = [&](const char* key, std::uint64_t fallback) {
            if (!body.contains(key) || body[key].is_null()) return fallback;
            if (!body[key].is_number_unsigned()) {
                b.window_valid = false;  // the nodes reject it as Meilisearch does
                return fallback;
            }
            return body[key].get<std::uint64_t>();
        };
        b.offset = window_param("offset", 0);
        b.keep_expiry = body.contains("fields") && body["fields"].is_array() &&
                        std::find(body["fields"].begin(), body["fields"].end(),
                                  json(routing::kExpiresField)) != body["fields"].end();
        b.limit = window_param("limit", 20);
        if (body.contains("sort") && body["sort"].is_array()) {
            for (const auto& s : body["sort"]) {
                if (s.is_string()) b.sort.push_back(s.get<std::string>());
            }
        }
    } else {
        b.window_valid = false;
    }
    const NodeBrowse node_browse = [&uid, &body, &b](const Assignment& a, std::uint64_t offset,
                                                     std::uint64_t limit, Fields fields) {
        json node_body = body;
        if (fields == Fields::places) {
            node_body["fields"] = json::array({routing::kOrdField});
            node_body.erase("retrieveVectors");
        } else if (body.contains("fields") && body["fields"].is_array()) {
            std::vector<std::string> names;
            for (const auto& f : body["fields"]) {
                if (f.is_string()) names.push_back(f.get<std::string>());
            }
            if (names.size() == body["fields"].size()) {
                routing::add_place(names);
                node_body["fields"] = names;
            }
        }
        if (b.window_valid) {
            node_body["offset"] = offset;
            node_body["limit"] = limit;
            if (a.restricted) {
                node_body["filter"] = with_shards(body.value("filter", json()), a.shards);
            }
        }
        return node_request(Method::post, index_path(uid) + "/documents/fetch", node_body.dump());
    };
    co_return co_await browse(ctx, uid, b, node_browse);
}

}  // namespace

void add_document_read_routes(http::Router& router, Context& ctx) {
    add_route(router, ctx, Method::get, "/indexes/{uid}/documents", "documents.get",
              list_documents);
    add_route(router, ctx, Method::post, "/indexes/{uid}/documents/fetch", "documents.get",
              fetch_documents);
    add_route(router, ctx, Method::get, "/indexes/{uid}/documents/{id}", "documents.get",
              get_document);
}

}  // namespace miroir::meili
