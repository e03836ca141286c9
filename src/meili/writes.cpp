// The write path: index creation and deletion broadcast to every node, documents routed to the
// owners of their shard, each write answered as one Miroir task.
#include <algorithm>
#include <map>
#include <set>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/write_gate.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/ingest/splitter.hpp>
#include <miroir/log/log.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/meili/ttl.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/settings_sync.hpp>
#include <miroir/scatter/shadow.hpp>
#include <miroir/tasks/store.hpp>

#include "route.hpp"

namespace miroir::meili {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

constexpr const char* kAccepted =
    "Accepted values for the Content-Type header are: `application/json`, "
    "`application/x-ndjson`, `text/csv`";

asio::awaitable<http::Response> create_index(Context& ctx, http::Request& r) {
    const auto body = http::json_body(r);
    if (!body.is_object()) {
        throw http::bad_request("Invalid value type: expected an object, but found " +
                                http::found_value(body));
    }
    for (const auto& [key, value] : body.items()) {
        if (key != "uid" && key != "primaryKey") {
            throw http::bad_request("Unknown field `" + key +
                                    "`: expected one of `uid`, `primaryKey`");
        }
    }
    if (!body.contains("uid")) throw http::error(400, "missing_index_uid", "Missing field `uid`");
    if (!body["uid"].is_string()) {
        throw http::error(400, "invalid_index_uid",
                          "Invalid value type at `.uid`: expected a string, but found " +
                              http::found_value(body["uid"]));
    }
    const auto uid = body["uid"].get<std::string>();
    try {
        check_index_uid(uid);
    } catch (const http::ApiError& e) {
        throw http::ApiError(e.status(), e.code(), e.type(),
                             std::string("Invalid value at `.uid`: ") + e.what());
    }
    if (!r.index_allowed(uid)) throw http::errors::invalid_api_key();
    std::optional<std::string> pk;
    if (body.contains("primaryKey") && !body["primaryKey"].is_null()) {
        if (!body["primaryKey"].is_string()) {
            throw http::error(400, "invalid_index_primary_key",
                              "Invalid value type at `.primaryKey`: expected a string, but found " +
                                  http::found_value(body["primaryKey"]));
        }
        pk = body["primaryKey"].get<std::string>();
    }
    json details;
    details["primaryKey"] = pk ? json(*pk) : json(nullptr);
    const auto fleet = ctx.fleet();  // one snapshot: the write is routed and judged on it
    auto task = new_task(uid, "indexCreation", details, fleet->copies());

    const auto existing = co_await lookup_index(ctx, uid);
    std::vector<NodeOutcome> outcomes;
    if (existing) {
        // the nodes report index_already_exists in their tasks; the index is left as it is
        json create;
        create["uid"] = uid;
        create["primaryKey"] = details["primaryKey"];
        outcomes = co_await fan_out(
            ctx, broadcast(*fleet, node_request(Method::post, "/indexes", create.dump())));
    } else {
        outcomes = co_await create_on_nodes(ctx, uid, pk, true);
    }
    co_return co_await conclude(ctx, *fleet, std::move(task), outcomes, all_shards(*fleet));
}

asio::awaitable<http::Response> delete_index(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    json details;
    details["deletedDocuments"] = nullptr;
    const auto fleet = ctx.fleet();  // one snapshot: the write is routed and judged on it
    // after a reshard's switch the old copy kept for a rollback goes with the index: its
    // layout forgotten below, the reshard deletes it once every pod stopped writing to it
    refuse_before_switch(*fleet, uid, "its deletion");
    auto task = new_task(uid, "indexDeletion", details, fleet->copies());
    auto outcomes =
        co_await fan_out(ctx, broadcast(*fleet, node_request(Method::del, index_path(uid))));
    co_await ctx.store.erase_index(uid);
    co_await forget_ttl(ctx, uid);
    co_await forget_layout(ctx, uid);
    co_return co_await conclude(ctx, *fleet, std::move(task), outcomes, all_shards(*fleet));
}

ingest::Format format_of(const http::Request& r) {
    const auto type = r.headers.get("Content-Type");
    if (!type) {
        throw http::error(415, "missing_content_type",
                          std::string("A Content-Type header is missing. ") + kAccepted);
    }
    const auto base = type->substr(0, type->find(';'));
    if (base == "application/json") return ingest::Format::json;
    if (base == "application/x-ndjson") return ingest::Format::ndjson;
    if (base == "text/csv") return ingest::Format::csv;
    throw http::error(415, "invalid_content_type",
                      "The Content-Type `" + std::string(*type) + "` is invalid. " + kAccepted);
}

char csv_delimiter(const http::Query& q, ingest::Format format) {
    auto d = q.get("csvDelimiter");
    if (!d) return ',';
    if (format != ingest::Format::csv) {
        throw http::error(
            415, "invalid_content_type",
            std::string("The Content-Type `") +
                (format == ingest::Format::json ? "application/json" : "application/x-ndjson") +
                "` does not support the use of a csv delimiter. The csv delimiter "
                "can only be used with the Content-Type `text/csv`.");
    }
    if (d->size() != 1 || static_cast<unsigned char>((*d)[0]) > 127) {
        throw http::error(400, "invalid_document_csv_delimiter",
                          "Invalid value in parameter `csvDelimiter`: expected a string of one "
                          "character, but found the following string of " +
                              std::to_string(d->size()) + " characters: `" + *d + "`");
    }
    // a line end or a quote as the delimiter leaves records and cells without one reading:
    // Miroir could not add its cells to a record the way every node reads it back
    if ((*d)[0] == '\n' || (*d)[0] == '\r' || (*d)[0] == '"') {
        throw http::error(400, "invalid_document_csv_delimiter",
                          "Invalid value in parameter `csvDelimiter`: a line end or a quote "
                          "cannot delimit cells.");
    }
    return (*d)[0];
}

// Each node's payload: every document, with its `_miroir_shard` and `_miroir_ord`, to the owners of
// its shard in every group the snapshot writes to (an empty payload for a node that gets none); the
// shards written, in order, into `shards`.
// Whether a write of `shard` goes to `node` (an owner in some written group).
bool writes_to(const Fleet& fleet, std::size_t node, std::uint32_t shard) {
    for (const auto& group : fleet.written_groups()) {
        const auto owners = fleet.write_owners(group, shard);
        if (std::find(owners.begin(), owners.end(), node) != owners.end()) return true;
    }
    return false;
}

// The hint of a write of documents `ids` (canonical) for `node`: the ids it was sent, with
// their shards. Worked out only for a node that missed the write, off the write's path.
template <class Ids>
HintOf ids_hint_of(const Fleet& fleet, const Ids& ids, std::optional<std::string> pk) {
    return [&fleet, &ids, pk](std::size_t node) {
        Hint h;
        std::set<std::uint32_t> shards;
        for (const auto& id : ids) {
            const std::string key(id);
            const auto shard = routing::shard_of(key, fleet.shards());
            if (!writes_to(fleet, node, shard)) continue;
            h.ids.push_back(key);
            shards.insert(shard);
        }
        h.shards.assign(shards.begin(), shards.end());
        h.primary_key = pk;
        return h;
    };
}

// `expiry`: the expiry of documents written without one (the index's default TTL); `stamp`:
// the write's, the same for the index and its shadow.
std::vector<std::string> node_payloads(const Fleet& fleet, const ingest::Split& split,
                                       ingest::Format format, char delimiter,
                                       std::optional<std::int64_t> expiry, std::uint64_t stamp,
                                       std::vector<std::uint32_t>& shards) {
    std::vector<std::string> payloads(fleet.size());
    std::vector<bool> touched(fleet.shards(), false);
    routing::Ord ord{stamp, 0};
    for (const auto& doc : split.documents) {
        const auto shard = routing::shard_of(doc.id, fleet.shards());
        touched[shard] = true;
        const auto place = routing::ord_value(ord);
        ++ord.position;
        for (const auto& group : fleet.written_groups()) {
            for (auto node : fleet.write_owners(group, shard)) {
                auto& out = payloads[node];
                if (format == ingest::Format::csv) {
                    if (out.empty()) {
                        ingest::begin_csv(out, split.csv_header, delimiter, true,
                                          expiry.has_value());
                    }
                    ingest::append_csv(out, doc, shard, delimiter, place, expiry);
                } else {
                    if (out.empty()) out = "[";
                    ingest::append_json(out, doc, shard, place, expiry);
                }
            }
        }
    }
    for (std::uint32_t s = 0; s < touched.size(); ++s) {
        if (touched[s]) shards.push_back(s);
    }
    return payloads;
}

// The shards `node` is written for.
std::vector<std::uint32_t> shards_of(const Fleet& fleet, std::size_t node) {
    std::vector<std::uint32_t> out;
    for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
        if (writes_to(fleet, node, s)) out.push_back(s);
    }
    return out;
}

// A documents write, as it is sent to an index or its shadow.
struct DocumentWrite {
    const ingest::Split& split;
    ingest::Format format;
    char delimiter;
    Method method;
    std::string query;                   // the node requests' query string
    std::optional<std::int64_t> expiry;  // of documents written without one
    std::uint64_t stamp;
};

// The node requests of `write` to index `node_uid` routed with `fleet`; the shards written go to
// `shards`.
std::vector<NodeCall> document_calls(const Fleet& fleet, const std::string& node_uid,
                                     const DocumentWrite& write,
                                     std::vector<std::uint32_t>& shards) {
    auto payloads = node_payloads(fleet, write.split, write.format, write.delimiter, write.expiry,
                                  write.stamp, shards);
    const bool csv = write.format == ingest::Format::csv;
    std::vector<NodeCall> calls;
    for (std::size_t node = 0; node < payloads.size(); ++node) {
        if (payloads[node].empty()) continue;
        if (!csv) payloads[node] += "]";
        calls.push_back(
            {node, node_request(write.method, index_path(node_uid) + "/documents" + write.query,
                                std::move(payloads[node]), csv ? "text/csv" : "application/json")});
    }
    return calls;
}

// POST (add or replace) and PUT (add or update) documents.
asio::awaitable<http::Response> add_documents(Context& ctx, http::Request& r, Method method) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const http::Query q(r.query, {"primaryKey", "csvDelimiter", "customMetadata", "skipCreation"});
    const auto format = format_of(r);
    const char delimiter = csv_delimiter(q, format);
    const auto requested_pk = q.get("primaryKey");
    check_writable(ctx, uid);

    const auto index = co_await lookup_index(ctx, uid);
    const auto known_pk = index ? index->primary_key : std::nullopt;
    auto split = ingest::split(r.body, {format, delimiter, known_pk ? known_pk : requested_pk});
    json details;
    details["receivedDocuments"] = split.documents.size();
    details["indexedDocuments"] = nullptr;
    auto task = new_task(uid, "documentAdditionOrUpdate", details, ctx.fleet()->copies());
    task.custom_metadata = q.get("customMetadata");
    if (split.failure && split.failure->synchronous) {
        throw http::error(400, split.failure->code, split.failure->message);
    }
    if (known_pk && requested_pk && *requested_pk != *known_pk) {
        co_return co_await fail_at_once(ctx, std::move(task), "index_primary_key_already_exists",
                                        "Index already has a primary key: `" + *known_pk + "`.");
    }
    if (split.failure) {
        co_return co_await fail_at_once(ctx, std::move(task), split.failure->code,
                                        split.failure->message);
    }
    const std::optional<std::string> pk =
        split.primary_key.empty() ? std::nullopt : std::optional(split.primary_key);
    if (!index) {
        co_await create_on_nodes(ctx, uid, pk);
    } else if (!known_pk && pk) {
        const tasks::IndexRecord record{uid, pk, index->shards};
        co_await ctx.store.put_index(record);
    }
    const bool expiring = std::any_of(split.documents.begin(), split.documents.end(),
                                      [](const ingest::Document& d) { return d.expires; });
    if (expiring) co_await ensure_ttl(ctx, uid);

    // one payload per node: each document to the owners of its shard in every group, under a
    // write pass (a rebalance copying a shard waits for it)
    auto pass = co_await ctx.writes.enter();
    // one snapshot from here on: the write is routed, and its quorum judged, on it
    const auto whole = ctx.fleet();
    const auto& fleet = whole->for_index(uid);
    task.copies = fleet.copies();
    DocumentWrite write{split, format, delimiter, method, {}, std::nullopt, routing::next_stamp()};
    if (const auto* ttl = fleet.topology().ttl_of(uid); ttl && ttl->default_ttl_s > 0) {
        write.expiry = unix_now() + ttl->default_ttl_s;
    }
    if (pk) write.query += "&primaryKey=" + http::percent_encode(*pk);
    if (format == ingest::Format::csv)
        write.query += "&csvDelimiter=" + http::percent_encode({&delimiter, 1});
    if (auto v = q.get("customMetadata")) {
        write.query += "&customMetadata=" + http::percent_encode(*v);
    }
    if (auto v = q.get("skipCreation")) write.query += "&skipCreation=" + http::percent_encode(*v);
    if (!write.query.empty()) write.query[0] = '?';
    std::vector<std::uint32_t> shards;
    auto calls = document_calls(fleet, uid, write, shards);
    auto outcomes = co_await fan_out(ctx, std::move(calls));
    std::vector<std::string_view> ids;
    for (const auto& doc : split.documents) ids.emplace_back(doc.id);
    const auto hint_of = ids_hint_of(fleet, ids, pk);
    if (const auto shadow = whole->written_shadow(uid)) {
        std::vector<std::uint32_t> shadow_shards;
        auto shadow_calls = document_calls(*shadow->fleet, shadow->uid, write, shadow_shards);
        co_await write_shadow(ctx, uid, std::move(shadow_calls));
    }
    co_return co_await conclude(ctx, fleet, std::move(task), outcomes, shards, hint_of);
}

// `?customMetadata=...` for the node requests of a write that carried it, else nothing.
std::string metadata_query(const std::optional<std::string>& metadata) {
    return metadata ? "?customMetadata=" + http::percent_encode(*metadata) : std::string();
}

// The canonical form of a document id given in a list or a path: strings as they are,
// anything else as its JSON text (as Meilisearch stringifies ids to delete).
std::string canonical(const nlohmann::json& id) {
    return id.is_string() ? id.get<std::string>() : id.dump();
}

// The node requests deleting documents `ids` (`canonical`: their canonical forms) from index
// `node_uid` routed with `fleet`: each id to the owners of its shard; the shards in `shards`.
std::vector<NodeCall> deletion_calls(const Fleet& fleet, const std::string& node_uid,
                                     const std::vector<nlohmann::json>& ids,
                                     const std::vector<std::string>& canonical, bool single,
                                     const std::string& suffix,
                                     std::vector<std::uint32_t>& shards) {
    std::vector<nlohmann::json> per_node(fleet.size(), nlohmann::json::array());
    std::vector<bool> touched(fleet.shards(), false);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto shard = routing::shard_of(canonical[i], fleet.shards());
        touched[shard] = true;
        for (const auto& group : fleet.written_groups()) {
            for (auto node : fleet.write_owners(group, shard)) per_node[node].push_back(ids[i]);
        }
    }
    std::vector<NodeCall> calls;
    for (std::size_t node = 0; node < per_node.size(); ++node) {
        if (per_node[node].empty()) continue;
        const auto path = index_path(node_uid) + "/documents";
        if (single) {
            calls.push_back(
                {node, node_request(Method::del,
                                    path + "/" + http::percent_encode(canonical[0]) + suffix)});
        } else {
            calls.push_back({node, node_request(Method::post, path + "/delete-batch" + suffix,
                                                per_node[node].dump())});
        }
    }
    for (std::uint32_t s = 0; s < touched.size(); ++s) {
        if (touched[s]) shards.push_back(s);
    }
    return calls;
}

// Deletes documents by id: each id goes to the owners of its shard.
asio::awaitable<http::Response> delete_ids(Context& ctx, const std::string& uid,
                                           const std::vector<nlohmann::json>& ids, bool single,
                                           const std::optional<std::string>& metadata) {
    const auto suffix = metadata_query(metadata);
    check_writable(ctx, uid);
    auto pass = co_await ctx.writes.enter();
    const auto whole = ctx.fleet();
    const auto& fleet = whole->for_index(uid);
    std::vector<std::string> canonical_ids;
    for (const auto& id : ids) canonical_ids.push_back(canonical(id));
    std::vector<std::uint32_t> shards;
    auto calls = deletion_calls(fleet, uid, ids, canonical_ids, single, suffix, shards);
    json details;
    details["providedIds"] = ids.size();
    details["deletedDocuments"] = nullptr;
    details["originalFilter"] = nullptr;
    auto task = new_task(uid, "documentDeletion", details, fleet.copies());
    task.custom_metadata = metadata;
    auto outcomes = co_await fan_out(ctx, std::move(calls));
    const auto hint_of = ids_hint_of(fleet, canonical_ids, std::nullopt);
    if (const auto shadow = whole->written_shadow(uid)) {
        std::vector<std::uint32_t> shadow_shards;
        auto shadow_calls = deletion_calls(*shadow->fleet, shadow->uid, ids, canonical_ids, single,
                                           suffix, shadow_shards);
        co_await write_shadow(ctx, uid, std::move(shadow_calls));
    }
    co_return co_await conclude(ctx, fleet, std::move(task), outcomes, shards, hint_of);
}

asio::awaitable<http::Response> delete_one(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const http::Query q(r.query, {"customMetadata"});
    const std::vector<nlohmann::json> ids{nlohmann::json(std::string(r.param("id")))};
    co_return co_await delete_ids(ctx, uid, ids, true, q.get("customMetadata"));
}

asio::awaitable<http::Response> delete_batch(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const http::Query q(r.query, {"customMetadata"});
    const auto body = http::json_body(r);
    if (!body.is_array()) {
        // serde's words: a JSON object is a map
        const std::string type = body.is_object() ? "map" : std::string(body.type_name());
        throw http::bad_request("Json deserialize error: invalid type: " + type +
                                ", expected a sequence at line 1 column 0");
    }
    std::vector<nlohmann::json> ids(body.begin(), body.end());
    co_return co_await delete_ids(ctx, uid, ids, false, q.get("customMetadata"));
}

// What a node that misses a deletion broadcast is hinted: the documents of its shards the
// filter selects, or every one (`filter` null).
struct DeletionHint {
    json filter;
};

// Delete by filter, delete all and edit by function: every node, every shard. A deletion
// (with `hint`) follows the write quorum, each node that misses it hinted; an edition needs a
// majority.
asio::awaitable<http::Response> delete_broadcast(Context& ctx, const std::string& uid,
                                                 upstream::UpstreamRequest request,
                                                 const json& details, const http::Query& q,
                                                 const char* type = "documentDeletion",
                                                 std::optional<DeletionHint> hint = {}) {
    check_writable(ctx, uid);
    auto pass = co_await ctx.writes.enter();
    const auto whole = ctx.fleet();  // one snapshot: the write is routed and judged on it
    const std::shared_ptr<const Fleet> fleet(whole, &whole->for_index(uid));
    auto task = new_task(uid, type, details, fleet->copies());
    task.custom_metadata = q.get("customMetadata");
    request.target += metadata_query(task.custom_metadata);
    auto outcomes = co_await fan_out(ctx, broadcast(*fleet, request));
    if (const auto shadow = whole->written_shadow(uid)) {
        co_await write_shadow(ctx, uid,
                              broadcast(*shadow->fleet, retarget(request, uid, shadow->uid)));
    }
    HintOf hint_of;
    if (hint) {
        hint_of = [&fleet, &hint](std::size_t node) {
            Hint h;
            if (hint->filter.is_null()) {
                h.all = true;
            } else {
                h.filter = hint->filter;
            }
            h.shards = shards_of(*fleet, node);
            return h;
        };
    }
    co_return co_await conclude(ctx, *fleet, std::move(task), outcomes, all_shards(*fleet),
                                hint_of);
}

asio::awaitable<http::Response> delete_by_filter(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const http::Query q(r.query, {"customMetadata"});
    const auto body = http::json_body(r);
    if (!body.is_object()) {
        throw http::bad_request("Invalid value type: expected an object, but found " +
                                http::found_value(body));
    }
    for (const auto& [key, value] : body.items()) {
        if (key != "filter")
            throw http::bad_request("Unknown field `" + key + "`: expected one of `filter`");
    }
    if (!body.contains("filter") || body["filter"].is_null()) {
        throw http::error(400, "missing_document_filter", "Missing field `filter`");
    }
    json details;
    details["providedIds"] = 0;
    details["deletedDocuments"] = nullptr;
    details["originalFilter"] = body["filter"].dump();
    // named locals, not temporaries, in the co_await expression (GCC 12)
    const std::optional<DeletionHint> hint = DeletionHint{body["filter"]};
    auto request = node_request(Method::post, index_path(uid) + "/documents/delete", body.dump());
    co_return co_await delete_broadcast(ctx, uid, std::move(request), details, q,
                                        "documentDeletion", hint);
}

asio::awaitable<http::Response> delete_all(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const http::Query q(r.query, {"customMetadata"});
    // (a local: GCC 12 rejects braced JSON literals inside co_await expressions)
    json details;
    details["deletedDocuments"] = nullptr;
    const std::optional<DeletionHint> hint = DeletionHint{json()};
    auto request = node_request(Method::del, index_path(uid) + "/documents");
    co_return co_await delete_broadcast(ctx, uid, std::move(request), details, q,
                                        "documentDeletion", hint);
}

// An edition function wrapped so that `_miroir_shard` and `_miroir_ord` survive whatever it
// does to `doc` (even replacing it): kept before, put back after unless the document was
// deleted. A function ending in `return` skips the restore; docs/writes.md says so.
std::string keeping_shard(const std::string& function) {
    return "let _miroir_kept = doc._miroir_shard; let _miroir_place = doc._miroir_ord; " +
           function +
           "\n;if type_of(doc) == \"map\" { doc._miroir_shard = _miroir_kept; "
           "doc._miroir_ord = _miroir_place; }";
}

// POST /indexes/{uid}/documents/edit: the function runs on every node over its documents (the
// client's filter and context); one Miroir task.
asio::awaitable<http::Response> edit_documents(Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    // an edition keeps a document's place: a reshard comparing places would miss it
    refuse_before_switch(*ctx.fleet(), uid, "an edition by a function");
    const http::Query q(r.query, {"customMetadata"});
    const auto body = http::json_body(r);
    const bool has_function =
        body.is_object() && body.contains("function") && body["function"].is_string();
    json node_body = body;
    if (has_function) node_body["function"] = keeping_shard(body["function"].get<std::string>());
    json details;
    details["editedDocuments"] = nullptr;
    details["deletedDocuments"] = nullptr;
    const auto filter = body.is_object() ? body.value("filter", json()) : json();
    details["originalFilter"] = filter.is_null() ? json() : json(filter.dump());
    details["context"] = body.is_object() ? body.value("context", json()) : json();
    details["function"] = has_function ? body["function"] : json();
    const auto suffix = metadata_query(q.get("customMetadata"));
    auto response = co_await delete_broadcast(
        ctx, uid, node_request(Method::post, index_path(uid) + "/documents/edit", node_body.dump()),
        details, q, "documentEdition");
    const auto refused = json::parse(response.body, nullptr, false);
    const bool script_error = response.status == 400 && refused.is_object() &&
                              refused.value("code", "") == "bad_request" &&
                              refused.value("message", "").find("(line ") != std::string::npos;
    if (!script_error || !has_function) co_return response;
    // a function that does not compile: the nodes' words about the client's own text (positions
    // included), asked of one node with a filter no document matches
    json plain = body;
    plain["filter"] = std::string(routing::kShardField) + " = -1";
    const auto again = co_await ctx.nodes[0]->send(
        node_request(Method::post, index_path(uid) + "/documents/edit" + suffix, plain.dump()),
        time_left(ctx, read_deadline(ctx)));
    if (again && again->status >= 400 && again->status < 500) {
        co_return relay_error(again->status, again->body);
    }
    co_return response;
}

}  // namespace

void add_write_routes(http::Router& router, Context& ctx) {
    using http::Access;
    add_route(router, ctx, Method::post, "/indexes", "indexes.create", create_index);
    add_route(router, ctx, Method::del, "/indexes/{uid}", "indexes.delete", delete_index);
    router.add(Method::post, "/indexes/{uid}/documents", "documents.add",
               [&ctx](http::Request& r) { return add_documents(ctx, r, Method::post); });
    router.add(Method::put, "/indexes/{uid}/documents", "documents.add",
               [&ctx](http::Request& r) { return add_documents(ctx, r, Method::put); });
    add_route(router, ctx, Method::del, "/indexes/{uid}/documents", "documents.delete", delete_all);
    add_route(router, ctx, Method::post, "/indexes/{uid}/documents/delete-batch",
              "documents.delete", delete_batch);
    add_route(router, ctx, Method::post, "/indexes/{uid}/documents/delete", "documents.delete",
              delete_by_filter);
    add_route(router, ctx, Method::del, "/indexes/{uid}/documents/{id}", "documents.delete",
              delete_one);
    add_route(router, ctx, Method::post, "/indexes/{uid}/documents/edit", "documents.*",
              edit_documents);
}

}  // namespace miroir::meili
