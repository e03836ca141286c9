// The development node's /health, /version, /stats and index routes.
#include <algorithm>
#include <set>

#include <miroir/http/api_error.hpp>
#include <miroir/http/api_keys.hpp>
#include <miroir/http/task_names.hpp>

#include "node.hpp"

namespace devnode {

namespace http = miroir::http;
using http::Method;

namespace {

// GET /stats: every index's statistics.
Response global_stats(State& state, Request& r) {
    Query q(r.query, {"showInternalDatabaseSizes", "sizeFormat"});
    const SizeDisplay sizes(q);
    std::lock_guard lock(state.mutex);
    json indexes = json::object();
    std::uint64_t size = 0;
    for (const auto& [uid, index] : state.indexes) {
        bool indexing = false;
        for (const auto& [tuid, t] : state.tasks) {
            if (t.index_uid == uid && (t.status == "enqueued" || t.status == "processing")) {
                indexing = true;
            }
        }
        indexes[uid] = index_stats(index, indexing, sizes);
        size += index.raw_bytes;
    }
    json j;
    j["databaseSize"] = sizes(size);
    j["usedDatabaseSize"] = sizes(size);
    j["lastUpdate"] = state.has_update ? json(rfc3339(state.last_update)) : json(nullptr);
    j["indexes"] = indexes;
    return respond(200, j);
}

// GET /indexes.
Response list_indexes(State& state, Request& r) {
    Query q(r.query, {"offset", "limit"});
    const auto offset = q.get_uint("offset", "invalid_index_offset").value_or(0);
    const auto limit = q.get_uint("limit", "invalid_index_limit").value_or(20);
    std::lock_guard lock(state.mutex);
    json results = json::array();
    std::size_t i = 0;
    for (const auto& [uid, index] : state.indexes) {
        if (i++ >= offset && results.size() < limit) results.push_back(index_json(index));
    }
    return respond(200, json{{"results", results},
                             {"offset", offset},
                             {"limit", limit},
                             {"total", state.indexes.size()}});
}

// POST /indexes: an indexCreation task.
Response enqueue_creation(State& state, Request& r) {
    const auto body = json_body(r);
    if (!body.is_object()) throw bad_request("Json deserialize error: expected an object");
    for (auto it = body.begin(); it != body.end(); ++it) {
        if (it.key() != "uid" && it.key() != "primaryKey") {
            throw bad_request("Unknown field `" + it.key() +
                              "`: expected one of `uid`, `primaryKey`");
        }
    }
    if (!body.contains("uid")) throw error(400, "missing_index_uid", "Missing field `uid`");
    if (!body["uid"].is_string()) {
        throw error(400, "invalid_index_uid",
                    "Invalid value type at `.uid`: expected a string, but found " +
                        found_value(body["uid"]));
    }
    const auto uid = body["uid"].get<std::string>();
    try {
        check_index_uid(uid);
    } catch (const ApiError& e) {
        throw ApiError(e.status(), e.code(), e.type(),
                       std::string("Invalid value at `.uid`: ") + e.what());
    }
    json pk = body.value("primaryKey", json(nullptr));
    if (!pk.is_null() && !pk.is_string()) {
        throw error(
            400, "invalid_index_primary_key",
            "Invalid value type at `.primaryKey`: expected a string, but found " + found_value(pk));
    }
    std::lock_guard lock(state.mutex);
    Operation op;
    if (pk.is_string()) op.primary_key = pk.get<std::string>();
    return respond(
        202,
        state.enqueue("indexCreation", uid, json{{"primaryKey", pk}}, std::move(op)).summary());
}

// PATCH /indexes/{uid}: an indexUpdate task (a new primary key, or a new uid).
Response enqueue_update(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto body = json_body(r);
    for (auto it = body.begin(); it != body.end(); ++it) {
        if (it.key() == "createdAt" || it.key() == "updatedAt") {
            throw error(400,
                        it.key() == "createdAt" ? "immutable_index_created_at"
                                                : "immutable_index_updated_at",
                        "Immutable field `" + it.key() + "`: expected one of `primaryKey`, `uid`");
        }
        if (it.key() != "uid" && it.key() != "primaryKey") {
            throw bad_request("Unknown field `" + it.key() +
                              "`: expected one of `primaryKey`, `uid`");
        }
    }
    Operation op;
    json details;
    json pk = body.value("primaryKey", json(nullptr));
    if (!pk.is_null() && !pk.is_string()) {
        throw error(
            400, "invalid_index_primary_key",
            "Invalid value type at `.primaryKey`: expected a string, but found " + found_value(pk));
    }
    if (pk.is_string()) op.primary_key = pk.get<std::string>();
    details["primaryKey"] = pk;
    if (body.contains("uid") && body["uid"].is_string()) {
        op.new_uid = body["uid"].get<std::string>();
        check_index_uid(*op.new_uid);
        details["oldIndexUid"] = uid;
        details["newIndexUid"] = *op.new_uid;
    }
    std::lock_guard lock(state.mutex);
    return respond(202, state.enqueue("indexUpdate", uid, details, std::move(op)).summary());
}

// GET /indexes/{uid}/stats.
Response one_index_stats(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const Query q(r.query, {"showInternalDatabaseSizes", "sizeFormat"});
    const SizeDisplay sizes(q);
    std::lock_guard lock(state.mutex);
    auto it = state.indexes.find(uid);
    if (it == state.indexes.end()) throw index_not_found(uid);
    bool indexing = false;
    for (const auto& [tuid, t] : state.tasks) {
        if (t.index_uid == uid && (t.status == "enqueued" || t.status == "processing")) {
            indexing = true;
        }
    }
    return respond(200, index_stats(it->second, indexing, sizes));
}

// POST /swap-indexes: an indexSwap task.
Response enqueue_swap(State& state, Request& r) {
    const auto body = json_body(r);
    if (!body.is_array()) throw bad_request("Json deserialize error: expected an array");
    json swaps = json::array();
    for (std::size_t i = 0; i < body.size(); ++i) {
        const auto& entry = body[i];
        if (!entry.is_object() || !entry.contains("indexes")) {
            throw error(400, "missing_swap_indexes",
                        "Missing field `indexes` inside `[" + std::to_string(i) + "]`");
        }
        const auto& pair = entry["indexes"];
        if (!pair.is_array() || pair.size() != 2) {
            throw error(400, "invalid_swap_indexes",
                        "Two indexes must be given for each swap. The list `" + pair.dump() +
                            "` contains " + std::to_string(pair.size()) + " indexes.");
        }
        for (const auto& u : pair) check_index_uid(u.get<std::string>());
        swaps.push_back(json{{"indexes", pair}, {"rename", entry.value("rename", false)}});
    }
    std::lock_guard lock(state.mutex);
    Operation op;
    op.swaps = swaps;
    return respond(202,
                   state.enqueue("indexSwap", std::nullopt, json{{"swaps", swaps}}, op).summary());
}

}  // namespace

void Node::add_misc_routes() {
    add(Method::get, "/health", "", [](Request&) {
        return respond(200, json{{"status", "available"}});
    });
    add(Method::get, "/version", "version", [](Request&) {
        json j;
        j["commitSha"] = "unknown";
        j["commitDate"] = "unknown";
        j["pkgVersion"] = kVersion;
        return respond(200, j);
    });
    add(Method::get, "/stats", "stats.get", [this](Request& r) { return global_stats(state_, r); });
    auto global_task = [this](const char* type) {
        return [this, type](Request&) {
            std::lock_guard lock(state_.mutex);
            json details =
                std::string(type) == "dumpCreation" ? json{{"dumpUid", nullptr}} : json(nullptr);
            return respond(202, state_.enqueue(type, std::nullopt, details).summary());
        };
    };
    add(Method::post, "/dumps", "dumps.create", global_task("dumpCreation"));
    add(Method::post, "/snapshots", "snapshots.create", global_task("snapshotCreation"));

    static const std::vector<std::string> kFeatures = {"metrics",
                                                       "logsRoute",
                                                       "editDocumentsByFunction",
                                                       "containsFilter",
                                                       "dynamicSearchRules",
                                                       "network",
                                                       "getTaskDocumentsRoute",
                                                       "taskQueueCompactionRoute",
                                                       "compositeEmbedders",
                                                       "chatCompletions",
                                                       "multimodal",
                                                       "foreignKeys",
                                                       "disableDocumentsFetchQueue",
                                                       "legacySearch",
                                                       "renderRoute"};
    for (const auto& f : kFeatures) state_.features[f] = false;
    add(Method::get, "/experimental-features", "experimental.get", [this](Request&) {
        std::lock_guard lock(state_.mutex);
        return respond(200, state_.features);
    });
    add(Method::patch, "/experimental-features", "experimental.update", [this](Request& r) {
        auto* features = &state_.features;
        const auto body = json_body(r);
        if (!body.is_object()) throw bad_request("Json deserialize error: expected an object");
        std::lock_guard lock(state_.mutex);
        for (auto it = body.begin(); it != body.end(); ++it) {
            if (!features->contains(it.key())) {
                throw bad_request("Unknown field `" + it.key() + "`: expected one of " +
                                  backquoted_list(kFeatures));
            }
            if (!it.value().is_boolean() && !it.value().is_null()) {
                throw bad_request("Invalid value type at `." + it.key() +
                                  "`: expected a boolean, but found " + found_value(it.value()));
            }
            if (it.value().is_boolean()) (*features)[it.key()] = it.value();
        }
        return respond(200, *features);
    });
}

void Node::add_index_routes() {
    add(
        Method::get, "/indexes", "indexes.get",
        [this](Request& r) { return list_indexes(state_, r); }, false);
    add(
        Method::post, "/indexes", "indexes.create",
        [this](Request& r) { return enqueue_creation(state_, r); }, false);
    add(Method::get, "/indexes/{uid}", "indexes.get", [this](Request& r) {
        const std::string uid(r.param("uid"));
        check_index_uid(uid);
        std::lock_guard lock(state_.mutex);
        auto it = state_.indexes.find(uid);
        if (it == state_.indexes.end()) throw index_not_found(uid);
        return respond(200, index_json(it->second));
    });
    add(Method::patch, "/indexes/{uid}", "indexes.update",
        [this](Request& r) { return enqueue_update(state_, r); });
    add(Method::del, "/indexes/{uid}", "indexes.delete", [this](Request& r) {
        const std::string uid(r.param("uid"));
        check_index_uid(uid);
        std::lock_guard lock(state_.mutex);
        return respond(
            202,
            state_.enqueue("indexDeletion", uid, json{{"deletedDocuments", nullptr}}).summary());
    });
    add(Method::get, "/indexes/{uid}/stats", "stats.get",
        [this](Request& r) { return one_index_stats(state_, r); });
    add(Method::post, "/indexes/{uid}/compact", "indexes.compact", [this](Request& r) {
        const std::string uid(r.param("uid"));
        check_index_uid(uid);
        std::lock_guard lock(state_.mutex);
        return respond(202, state_.enqueue("indexCompaction", uid, json::object()).summary());
    });
    add(Method::post, "/indexes/{uid}/fields", "fields.post",
        [this](Request& r) { return list_fields(state_, r); });
    add(
        Method::post, "/swap-indexes", "indexes.swap",
        [this](Request& r) { return enqueue_swap(state_, r); }, false);
}

}  // namespace devnode
