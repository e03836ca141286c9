// Documents: payload parsing (JSON, NDJSON, CSV), primary-key inference, id validation,
// browse/fetch/get, and the add/update/delete tasks.
#include <algorithm>
#include <set>

#include "filter.hpp"
#include "node.hpp"
#include "search.hpp"

namespace devnode {

namespace http = miroir::http;
using http::Method;

namespace {

// `useNetwork` needs Meilisearch's experimental `network` feature, which this node lacks.
void reject_use_network(bool given) {
    if (!given) return;
    throw error(400, "feature_not_enabled",
                "passing `useNetwork` in a search query requires enabling the `network` "
                "experimental feature. See https://github.com/orgs/meilisearch/discussions/805");
}

// Whether the index filters or sorts on `_geo` (milli reads the field only then).
bool geo_enabled(const json& settings) {
    const auto& sortable = settings["sortableAttributes"];
    return std::find(sortable.begin(), sortable.end(), json("_geo")) != sortable.end() ||
           is_filterable(settings["filterableAttributes"], "_geo");
}

// The value at a dotted primary-key path, or nullptr when absent.
const json* field_at(const json& doc, const std::string& path) {
    if (auto it = doc.find(path); it != doc.end()) return &*it;
    const auto dot = path.find('.');
    if (dot == std::string::npos) return nullptr;
    auto it = doc.find(path.substr(0, dot));
    if (it == doc.end() || !it->is_object()) return nullptr;
    return field_at(*it, path.substr(dot + 1));
}

ApiError invalid_id(const json& value) {
    return error(400, "invalid_document_id",
                 "Document identifier `" + value.dump() +
                     "` is invalid. A document identifier can be of type integer or string, only "
                     "composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and "
                     "underscores (_), and can not be more than 511 bytes.");
}

bool valid_id_string(const std::string& s) {
    return !s.empty() && s.size() <= 511 && std::all_of(s.begin(), s.end(), [](char c) {
        return isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

}  // namespace

// The canonical string of a document id value (integer in decimal, string as is).
std::optional<std::string> canonical_id(const json& value) {
    if (value.is_number_integer()) return value.dump();
    if (value.is_string() && valid_id_string(value.get<std::string>())) {
        return value.get<std::string>();
    }
    return std::nullopt;
}

json project(const json& doc, const std::optional<std::vector<std::string>>& fields,
             bool retrieve_vectors) {
    json out = json::object();
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        if (it.key() == "_vectors") continue;
        if (!fields) {
            out[it.key()] = it.value();
            continue;
        }
        for (const auto& f : *fields) {
            if (f == "*" || f == it.key()) {
                out[it.key()] = it.value();
                break;
            }
        }
    }
    if (retrieve_vectors) out["_vectors"] = shown_vectors(doc);
    return out;
}

namespace {

// The one field of the first document whose name ends with `id` (any case), else Meilisearch's
// inference errors.
std::string infer_primary_key(const json& first) {
    std::vector<std::string> candidates;
    for (auto f = first.begin(); f != first.end(); ++f) {
        std::string lower = f.key();
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        if (lower.ends_with("id")) candidates.push_back(f.key());
    }
    std::sort(candidates.begin(), candidates.end());
    if (candidates.empty()) {
        throw error(400, "index_primary_key_no_candidate_found",
                    "The primary key inference failed as the engine did not find any field "
                    "ending with `id` in its name. Please specify the primary key manually "
                    "using the `primaryKey` query parameter.");
    }
    if (candidates.size() > 1) {
        throw error(400, "index_primary_key_multiple_candidates_found",
                    "The primary key inference failed as the engine found " +
                        std::to_string(candidates.size()) +
                        " fields ending with `id` in their names: '" + candidates[0] + "' and '" +
                        candidates[1] +
                        "'. Please specify the primary key manually using the `primaryKey` "
                        "query parameter.");
    }
    return candidates[0];
}

// The index's primary key, the task's (which may not change it), or one inferred from the
// first document; nullopt only when there are no documents.
std::optional<std::string> primary_key_of(const Index* index, const Task& task,
                                          const std::vector<json>& docs) {
    std::optional<std::string> pk = index ? index->primary_key : std::nullopt;
    if (task.op.primary_key) {
        if (pk && *pk != *task.op.primary_key) {
            throw error(400, "index_primary_key_already_exists",
                        "Index already has a primary key: `" + *pk + "`.");
        }
        pk = task.op.primary_key;
    }
    if (!pk && !docs.empty()) pk = infer_primary_key(docs[0]);
    return pk;
}

// A document's `_geo` (read only when the index filters or sorts on it): an object with `lat`
// and `lng`, or null.
void check_geo(const json& doc, const std::string& id) {
    for (auto f = doc.begin(); f != doc.end(); ++f) {
        if (f.key() == "_geo" && !f.value().is_null() &&
            !(f.value().is_object() && f.value().contains("lat") && f.value().contains("lng"))) {
            throw error(400, "invalid_document_geo_field",
                        "The `_geo` field in the document with the id: `" + id +
                            "` is not an object. Was expecting an object with the `_geo.lat` "
                            "and `_geo.lng` fields but instead got `" +
                            f.value().dump() + "`.");
        }
    }
}

// Every vector of a document has its embedder's dimensions.
void check_vectors(const Index& index, const std::string& uid, const json& doc,
                   const std::string& id) {
    const auto& embedders = index.settings["embedders"];
    for (auto e = embedders.begin(); e != embedders.end(); ++e) {
        const auto dims = e.value()["dimensions"].get<std::size_t>();
        for (const auto& v : document_vectors(doc, e.key())) {
            if (v.size() != dims) {
                throw error(400, "invalid_vector_dimensions",
                            "Index `" + uid +
                                "`: Invalid vector dimensions in document "
                                "with id `" +
                                id + "` in `._vectors." + e.key() +
                                "`.\n  - note: embedding #0 has dimensions " +
                                std::to_string(v.size()) + "\n  - note: embedder `" + e.key() +
                                "` requires " + std::to_string(dims));
            }
        }
    }
}

// Every document's id, each document checked before any is written (the whole task fails).
std::vector<std::string> document_ids(const Index* index, const std::string& uid,
                                      const std::vector<json>& docs,
                                      const std::optional<std::string>& pk) {
    const bool geo = index && geo_enabled(index->settings);
    std::vector<std::string> ids;
    ids.reserve(docs.size());
    for (const auto& doc : docs) {
        const json* value = field_at(doc, *pk);
        if (!value) {
            throw error(400, "missing_document_id",
                        "Document doesn't have a `" + *pk + "` attribute: `" + doc.dump() + "`.");
        }
        auto id = canonical_id(*value);
        if (!id) throw invalid_id(*value);
        if (geo) check_geo(doc, *id);
        if (index) check_vectors(*index, uid, doc, *id);
        ids.push_back(std::move(*id));
    }
    return ids;
}

// Writes the documents: replaced whole, or merged into the one they update; with
// skipCreation, only documents that exist. Returns how many were written.
std::uint64_t write_documents(Index& index, Operation& op, const std::vector<std::string>& ids) {
    auto& docs = op.documents;
    std::uint64_t indexed = 0;
    for (std::size_t i = 0; i < docs.size(); ++i) {
        auto existing = index.by_id.find(ids[i]);
        if (existing == index.by_id.end()) {
            if (op.skip_creation) continue;
            index.put(ids[i], std::move(docs[i]));
        } else if (op.replace) {
            index.put(ids[i], std::move(docs[i]));
        } else {
            json merged = *index.slots[existing->second];
            for (auto f = docs[i].begin(); f != docs[i].end(); ++f) merged[f.key()] = f.value();
            index.put(ids[i], std::move(merged));
        }
        ++indexed;
    }
    return indexed;
}

}  // namespace

void apply_documents(State& state, Task& task) {
    const auto& uid = *task.index_uid;
    const auto& docs = task.op.documents;
    auto it = state.indexes.find(uid);
    Index* index = it == state.indexes.end() ? nullptr : &it->second;
    const auto pk = primary_key_of(index, task, docs);
    // every document checked before the index is touched
    const auto ids = document_ids(index, uid, docs, pk);
    if (!index) {
        if (task.op.skip_creation) {
            task.details["indexedDocuments"] = 0;
            return;
        }
        index = &create_index(state, uid, std::nullopt);
    }
    if (!docs.empty()) index->primary_key = pk;
    const std::uint64_t indexed = write_documents(*index, task.op, ids);
    index->updated_at = now();
    task.details["indexedDocuments"] = indexed;
}

void apply_document_deletion(State& state, Task& task) {
    const auto& uid = *task.index_uid;
    auto it = state.indexes.find(uid);
    if (it == state.indexes.end()) throw index_not_found(uid);
    Index& index = it->second;
    std::uint64_t deleted = 0;
    switch (task.op.deletion) {
        case Operation::Deletion::ids:
            for (const auto& id : task.op.ids) deleted += index.erase(id) ? 1 : 0;
            break;
        case Operation::Deletion::all:
            deleted = index.size();
            index.clear();
            break;
        case Operation::Deletion::filter: {
            const auto filter = parse_filter(task.op.filter, "invalid_document_filter");
            try {
                check_filterable(filter, index.settings["filterableAttributes"],
                                 "invalid_document_filter");
            } catch (const ApiError& e) {
                // the task's error names the index, the expression as it was written
                throw ApiError(e.status(), e.code(), e.type(), "Index `" + uid + "`: " + e.what());
            }
            std::vector<std::string> doomed;
            for (const auto& [id, slot] : index.by_id) {
                if (matches(filter, *index.slots[slot])) doomed.push_back(id);
            }
            for (const auto& id : doomed) deleted += index.erase(id) ? 1 : 0;
            break;
        }
        case Operation::Deletion::none:
            break;
    }
    index.updated_at = now();
    task.details["deletedDocuments"] = deleted;
}

namespace {

// POST (replace) and PUT (update) /indexes/{uid}/documents: a documentAdditionOrUpdate task.
Response enqueue_addition(State& state, Request& r, bool replace) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    Query q(r.query, {"primaryKey", "csvDelimiter", "customMetadata", "skipCreation"});
    Operation op;
    op.replace = replace;
    op.primary_key = q.get("primaryKey");
    op.skip_creation = q.get_bool("skipCreation", "invalid_document_skip_creation").value_or(false);
    op.custom_metadata = q.get("customMetadata");
    op.documents = parse_payload(r, q);
    json details;
    details["receivedDocuments"] = op.documents.size();
    details["indexedDocuments"] = nullptr;
    std::lock_guard lock(state.mutex);
    return respond(
        202, state.enqueue("documentAdditionOrUpdate", uid, details, std::move(op)).summary());
}

Response enqueue_deletion(State& state, Request& r, Operation op, json details) {
    const std::string uid(r.param("uid"));
    const Query q(r.query, {"customMetadata"});
    op.custom_metadata = q.get("customMetadata");
    std::lock_guard lock(state.mutex);
    return respond(202, state.enqueue("documentDeletion", uid, details, std::move(op)).summary());
}

// The details of a deletion of documents by ids.
json ids_deletion_details(std::size_t provided) {
    json details;
    details["providedIds"] = provided;
    details["deletedDocuments"] = nullptr;
    details["originalFilter"] = nullptr;
    return details;
}

// DELETE /indexes/{uid}/documents.
Response delete_all(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    Operation op;
    op.deletion = Operation::Deletion::all;
    return enqueue_deletion(state, r, std::move(op), json{{"deletedDocuments", nullptr}});
}

// POST /indexes/{uid}/documents/delete-batch: an array of ids.
Response delete_batch(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto body = json_body(r);
    if (!body.is_array()) {
        // serde's words: a JSON object is a map
        const std::string type = body.is_object() ? "map" : std::string(body.type_name());
        throw bad_request("Json deserialize error: invalid type: " + type +
                          ", expected a sequence at line 1 column 0");
    }
    Operation op;
    op.deletion = Operation::Deletion::ids;
    for (const auto& v : body) op.ids.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    const auto details = ids_deletion_details(op.ids.size());
    return enqueue_deletion(state, r, std::move(op), details);
}

// POST /indexes/{uid}/documents/delete: `{"filter": ...}`, not empty.
Response delete_by_filter(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto body = json_body(r);
    if (!body.is_object()) {
        throw bad_request("Invalid value type: expected an object, but found " + found_value(body));
    }
    for (auto it = body.begin(); it != body.end(); ++it) {
        if (it.key() != "filter") {
            throw bad_request("Unknown field `" + it.key() + "`: expected one of `filter`");
        }
    }
    if (!body.contains("filter")) {
        throw error(400, "missing_document_filter", "Missing field `filter`");
    }
    const auto& filter = body["filter"];
    if (!parse_filter(filter, "invalid_document_filter")) {
        throw error(400, "invalid_document_filter", "Sending an empty filter is forbidden.");
    }
    Operation op;
    op.deletion = Operation::Deletion::filter;
    op.filter = filter;
    json details;
    details["providedIds"] = 0;
    details["deletedDocuments"] = nullptr;
    details["originalFilter"] = filter.dump();
    return enqueue_deletion(state, r, std::move(op), details);
}

// DELETE /indexes/{uid}/documents/{id}.
Response delete_one(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    Operation op;
    op.deletion = Operation::Deletion::ids;
    op.ids.push_back(std::string(r.param("id")));
    return enqueue_deletion(state, r, std::move(op), ids_deletion_details(1));
}

// What GET /documents and POST /documents/fetch ask for.
struct Browse {
    std::string uid;
    std::uint64_t offset = 0, limit = 20;
    bool vectors = false;
    std::optional<std::vector<std::string>> fields, ids;
    json filter;
    std::vector<std::string> sort;
};

// Browsing: the documents the filter (and `ids`) select, sorted, a window of them projected.
Response browse(State& state, const Browse& b) {
    const auto filter = parse_filter(b.filter, "invalid_document_filter");
    std::lock_guard lock(state.mutex);
    auto it = state.indexes.find(b.uid);
    if (it == state.indexes.end()) throw index_not_found(b.uid);
    const Index& index = it->second;
    check_filterable(filter, index.settings["filterableAttributes"], "invalid_document_filter");
    std::vector<const json*> matched;
    if (b.ids) {
        std::set<std::uint32_t> slots;
        for (const auto& id : *b.ids) {
            if (auto f = index.by_id.find(id); f != index.by_id.end()) slots.insert(f->second);
        }
        for (auto s : slots) {
            if (matches(filter, *index.slots[s])) matched.push_back(&*index.slots[s]);
        }
    } else {
        index.each([&](const json& doc) {
            if (matches(filter, doc)) matched.push_back(&doc);
        });
    }
    sort_documents(matched, b.sort, index.settings["sortableAttributes"], "invalid_document_sort");
    json results = json::array();
    for (std::size_t i = b.offset; i < matched.size() && results.size() < b.limit; ++i) {
        results.push_back(project(*matched[i], b.fields, b.vectors));
    }
    return respond(200, json{{"results", results},
                             {"offset", b.offset},
                             {"limit", b.limit},
                             {"total", matched.size()}});
}

std::optional<std::vector<std::string>> csv_list(const std::optional<std::string>& v) {
    return v ? std::optional<std::vector<std::string>>(split_csv(*v)) : std::nullopt;
}

// GET /indexes/{uid}/documents: browsing with query parameters.
Response get_documents(State& state, Request& r) {
    Browse b;
    b.uid = std::string(r.param("uid"));
    check_index_uid(b.uid);
    Query q(r.query, {"offset", "limit", "fields", "retrieveVectors", "ids", "filter", "sort",
                      "useNetwork"});
    reject_use_network(q.has("useNetwork"));
    b.offset = q.get_uint("offset", "invalid_document_offset").value_or(0);
    b.limit = q.get_uint("limit", "invalid_document_limit").value_or(20);
    b.vectors = q.get_bool("retrieveVectors", "invalid_document_retrieve_vectors").value_or(false);
    b.filter = nullptr;
    if (auto f = q.get("filter")) {
        try {
            b.filter = json::parse(*f);
        } catch (const json::parse_error&) {
            b.filter = *f;
        }
    }
    b.fields = csv_list(q.get("fields"));
    b.ids = csv_list(q.get("ids"));
    b.sort = csv_list(q.get("sort")).value_or(std::vector<std::string>{});
    return browse(state, b);
}

// POST /documents/fetch's `offset` or `limit`.
std::uint64_t fetch_uint(const json& body, const char* name, const char* code,
                         std::uint64_t fallback) {
    if (!body.contains(name) || body[name].is_null()) return fallback;
    if (!body[name].is_number_unsigned()) {
        throw error(400, code,
                    std::string("Invalid value type at `.") + name +
                        "`: expected a positive integer, but found " + found_value(body[name]));
    }
    return body[name].get<std::uint64_t>();
}

// POST /documents/fetch's `ids`, each a valid document id.
std::optional<std::vector<std::string>> fetch_ids(const json& body) {
    if (!body.contains("ids") || !body["ids"].is_array()) return std::nullopt;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < body["ids"].size(); ++i) {
        const auto& v = body["ids"][i];
        auto id = canonical_id(v);
        if (!id) {
            throw error(400, "invalid_document_ids",
                        "In `.ids[" + std::to_string(i) + "]`: " + invalid_id(v).what());
        }
        ids.push_back(*id);
    }
    return ids;
}

// POST /documents/fetch's `sort`: an array of strings, or null.
std::vector<std::string> fetch_sort(const json& body) {
    std::vector<std::string> sort;
    if (!body.contains("sort") || body["sort"].is_null()) return sort;
    if (!body["sort"].is_array()) {
        throw error(400, "invalid_document_sort",
                    "Invalid value type at `.sort`: expected an array, but found " +
                        found_value(body["sort"]));
    }
    for (const auto& s : body["sort"]) {
        if (!s.is_string()) {
            throw error(
                400, "invalid_document_sort",
                "Invalid value type at `.sort`: expected a string, but found " + found_value(s));
        }
        sort.push_back(s.get<std::string>());
    }
    return sort;
}

// POST /indexes/{uid}/documents/fetch: browsing with a JSON body.
Response fetch_documents(State& state, Request& r) {
    Browse b;
    b.uid = std::string(r.param("uid"));
    check_index_uid(b.uid);
    const auto body = json_body(r);
    static const std::vector<std::string> kFields = {
        "offset", "limit", "fields", "retrieveVectors", "ids", "filter", "sort", "useNetwork"};
    for (auto it = body.begin(); it != body.end(); ++it) {
        if (std::find(kFields.begin(), kFields.end(), it.key()) == kFields.end()) {
            throw bad_request("Unknown field `" + it.key() + "`: expected one of " +
                              backquoted_list(kFields));
        }
    }
    reject_use_network(body.contains("useNetwork"));
    if (body.contains("fields") && body["fields"].is_array()) {
        b.fields = body["fields"].get<std::vector<std::string>>();
    }
    b.ids = fetch_ids(body);
    b.vectors = body.value("retrieveVectors", false);
    b.sort = fetch_sort(body);
    // `limit` is checked before `offset`: with both invalid, the error names `limit`
    b.limit = fetch_uint(body, "limit", "invalid_document_limit", 20);
    b.offset = fetch_uint(body, "offset", "invalid_document_offset", 0);
    b.filter = body.value("filter", json(nullptr));
    return browse(state, b);
}

// GET /indexes/{uid}/documents/{id}.
Response get_document(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    Query q(r.query, {"fields", "retrieveVectors", "useNetwork"});
    reject_use_network(q.has("useNetwork"));
    const bool vectors =
        q.get_bool("retrieveVectors", "invalid_document_retrieve_vectors").value_or(false);
    const std::string id(r.param("id"));
    std::lock_guard lock(state.mutex);
    auto it = state.indexes.find(uid);
    if (it == state.indexes.end()) throw index_not_found(uid);
    auto doc = it->second.by_id.find(id);
    if (doc == it->second.by_id.end()) {
        throw error(404, "document_not_found", "Document `" + id + "` not found.");
    }
    return respond(200,
                   project(*it->second.slots[doc->second], csv_list(q.get("fields")), vectors));
}

}  // namespace

void Node::add_document_routes() {
    add(Method::post, "/indexes/{uid}/documents", "documents.add",
        [this](Request& r) { return enqueue_addition(state_, r, true); });
    add(Method::put, "/indexes/{uid}/documents", "documents.add",
        [this](Request& r) { return enqueue_addition(state_, r, false); });
    add(Method::post, "/indexes/{uid}/documents/edit", "documents.*",
        [this](Request& r) { return edit_documents(state_, r); });
    add(Method::del, "/indexes/{uid}/documents", "documents.delete",
        [this](Request& r) { return delete_all(state_, r); });
    add(Method::post, "/indexes/{uid}/documents/delete-batch", "documents.delete",
        [this](Request& r) { return delete_batch(state_, r); });
    add(Method::post, "/indexes/{uid}/documents/delete", "documents.delete",
        [this](Request& r) { return delete_by_filter(state_, r); });
    add(Method::del, "/indexes/{uid}/documents/{id}", "documents.delete",
        [this](Request& r) { return delete_one(state_, r); });
    add(Method::get, "/indexes/{uid}/documents", "documents.get",
        [this](Request& r) { return get_documents(state_, r); });
    add(Method::post, "/indexes/{uid}/documents/fetch", "documents.get",
        [this](Request& r) { return fetch_documents(state_, r); });
    add(Method::get, "/indexes/{uid}/documents/{id}", "documents.get",
        [this](Request& r) { return get_document(state_, r); });
}

}  // namespace devnode
