// The development node: route table, auth, misc/keys/indexes/tasks routes and the worker.
#include "node.hpp"

#include <algorithm>
#include <openssl/crypto.h>
#include <set>

#include <miroir/http/api_error.hpp>
#include <miroir/http/api_keys.hpp>
#include <miroir/http/task_names.hpp>

namespace devnode {

namespace http = miroir::http;
using http::Method;

namespace {

const char* kVersion = "1.50.0";

bool secret_equals(const std::string& a, const std::string& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::uint32_t parse_task_uid(const std::string& s) {
    const bool ok = !s.empty() && s.size() < 11 &&
                    std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!ok || std::stoull(s) > 0xffffffffULL) {
        throw error(400, "invalid_task_uids",
                    "Task uid `" + s + "` is invalid. It should only contain numeric characters.");
    }
    return static_cast<std::uint32_t>(std::stoull(s));
}

using miroir::http::kTaskFilterParams;
using miroir::http::kTaskStatuses;
using miroir::http::kTaskTypes;

// The task filters shared by GET /tasks, POST /tasks/cancel and DELETE /tasks.
struct TaskFilter {
    std::optional<std::set<std::uint32_t>> uids, batch_uids, canceled_by;
    std::optional<std::set<std::string>> types, statuses, index_uids;
    std::optional<Time> before_enqueued, after_enqueued, before_started, after_started,
        before_finished, after_finished;
    bool any = false;

    explicit TaskFilter(const Query& q) {
        auto uid_set = [&](const char* name, const char* code) {
            std::optional<std::set<std::uint32_t>> out;
            if (auto v = q.get(name); v && *v != "*") {
                out.emplace();
                for (const auto& item : split_csv(*v)) {
                    const bool ok =
                        !item.empty() && std::all_of(item.begin(), item.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
                    if (!ok) {
                        throw error(400, code,
                                    "Invalid value in parameter `" + std::string(name) +
                                        "`: could not parse `" + item + "` as a positive integer");
                    }
                    out->insert(static_cast<std::uint32_t>(std::stoull(item)));
                }
            }
            if (q.has(name)) any = true;
            return out;
        };
        auto name_set = [&](const char* name, const char* code,
                            const std::vector<std::string>* allowed) {
            std::optional<std::set<std::string>> out;
            if (auto v = q.get(name); v && *v != "*") {
                out.emplace();
                for (const auto& item : split_csv(*v)) {
                    if (!allowed) {
                        check_index_uid(item);
                        out->insert(item);
                        continue;
                    }
                    auto match = std::find_if(allowed->begin(), allowed->end(), [&](auto& a) {
                        return std::equal(a.begin(), a.end(), item.begin(), item.end(),
                                          [](char x, char y) { return tolower(x) == tolower(y); });
                    });
                    if (match == allowed->end()) {
                        throw error(
                            400, code,
                            "Invalid value in parameter `" + std::string(name) + "`: `" + item +
                                "` is not a valid " +
                                (std::string(name) == "types" ? "task type" : "task status") +
                                ". Available " +
                                (std::string(name) == "types" ? "types" : "statuses") + " are " +
                                backquoted_list(*allowed) + ".");
                    }
                    out->insert(*match);
                }
            }
            if (q.has(name)) any = true;
            return out;
        };
        auto date = [&](const char* name, bool before) -> std::optional<Time> {
            auto v = q.get(name);
            if (!v) return std::nullopt;
            any = true;
            bool date_only = false;
            auto t = parse_date(*v, &date_only);
            if (!t) {
                throw error(400, "invalid_task_" + snake_case(name),
                            "Invalid value in parameter `" + std::string(name) + "`: `" + *v +
                                "` is an invalid date-time. It should follow the YYYY-MM-DD or "
                                "RFC 3339 date-time format.");
            }
            if (date_only && !before && *t < Time::max() - std::chrono::hours(24)) {
                *t += std::chrono::hours(24);
            }
            return t;
        };
        uids = uid_set("uids", "invalid_task_uids");
        batch_uids = uid_set("batchUids", "invalid_task_batch_uids");
        canceled_by = uid_set("canceledBy", "invalid_task_canceled_by");
        types = name_set("types", "invalid_task_types", &kTaskTypes);
        statuses = name_set("statuses", "invalid_task_statuses", &kTaskStatuses);
        index_uids = name_set("indexUids", "invalid_index_uid", nullptr);
        before_enqueued = date("beforeEnqueuedAt", true);
        after_enqueued = date("afterEnqueuedAt", false);
        before_started = date("beforeStartedAt", true);
        after_started = date("afterStartedAt", false);
        before_finished = date("beforeFinishedAt", true);
        after_finished = date("afterFinishedAt", false);
    }

    bool matches(const Task& t) const {
        if (uids && !uids->count(t.uid)) return false;
        if (batch_uids && (!t.batch_uid || !batch_uids->count(*t.batch_uid))) return false;
        if (canceled_by && (!t.canceled_by || !canceled_by->count(*t.canceled_by))) return false;
        if (types && !types->count(t.type)) return false;
        if (statuses && !statuses->count(t.status)) return false;
        if (index_uids && (!t.index_uid || !index_uids->count(*t.index_uid))) return false;
        auto in = [](std::optional<Time> at, const std::optional<Time>& before,
                     const std::optional<Time>& after) {
            if (!before && !after) return true;
            if (!at) return false;
            if (before && !(*at < *before)) return false;
            if (after && !(*at > *after)) return false;
            return true;
        };
        return in(t.enqueued_at, before_enqueued, after_enqueued) &&
               in(t.started_at, before_started, after_started) &&
               in(t.finished_at, before_finished, after_finished);
    }
};

}  // namespace

ApiError index_not_found(const std::string& uid) {
    return error(404, "index_not_found", "Index `" + uid + "` not found.");
}

void check_index_uid(const std::string& uid) {
    const bool ok =
        !uid.empty() && uid.size() <= 400 && std::all_of(uid.begin(), uid.end(), [](char c) {
            return isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
        });
    if (!ok) {
        throw error(400, "invalid_index_uid",
                    "`" + uid +
                        "` is not a valid index uid. Index uid can be an integer or a string "
                        "containing only alphanumeric characters, hyphens (-) and underscores "
                        "(_), and can not be more than 512 bytes.");
    }
}

Index& create_index(State& state, const std::string& uid, std::optional<std::string> pk) {
    Index index;
    index.uid = uid;
    index.primary_key = std::move(pk);
    index.created_at = index.updated_at = now();
    index.settings = default_settings();
    return state.indexes.emplace(uid, std::move(index)).first->second;
}

json index_json(const Index& index) {
    json j;
    j["uid"] = index.uid;
    j["createdAt"] = rfc3339(index.created_at);
    j["updatedAt"] = rfc3339(index.updated_at);
    j["primaryKey"] = index.primary_key ? json(*index.primary_key) : json(nullptr);
    return j;
}

json index_stats(const Index& index, bool indexing) {
    const std::uint64_t bytes = index.raw_bytes;
    json j;
    j["numberOfDocuments"] = index.size();
    j["rawDocumentDbSize"] = bytes;
    j["avgDocumentSize"] = index.size() ? bytes / index.size() : 0;
    j["isIndexing"] = indexing;
    j["numberOfEmbeddings"] = 0;
    j["numberOfEmbeddedDocuments"] = 0;
    json dist = json::object();
    for (const auto& [k, v] : index.field_counts) dist[k] = v;
    j["fieldDistribution"] = dist;
    return j;
}

Node::Node(std::string master_key) {
    state_.master_key = std::move(master_key);
    // the default keys, with random uids as Meilisearch creates them
    auto add_default = [&](const char* name, const char* description,
                           std::vector<std::string> actions) {
        Key k;
        k.uid = new_uuid();
        k.key = miroir::http::derive_key(state_.master_key, k.uid);
        k.name = name;
        k.description = description;
        k.actions = std::move(actions);
        k.indexes = {"*"};
        k.created_at = k.updated_at = now();
        state_.keys.push_back(std::move(k));
    };
    add_default("Default Search API Key", "Use it to search from the frontend", {"search"});
    add_default("Default Admin API Key",
                "Use it for anything that is not a search operation. Caution! Do not expose it "
                "on a public frontend",
                {"*"});
    add_default("Default Read-Only Admin API Key",
                "Use it to read information across the whole database. Caution! Do not expose it "
                "on a public frontend",
                {"*.get", "keys.get"});
    add_default("Default Chat API Key", "Default API key for chat completions",
                {"chatCompletions", "search"});

    add_misc_routes();
    add_key_routes();
    add_index_routes();
    add_document_routes();
    add_settings_routes();
    add_task_routes();
    add_search_routes();
    add_fault_routes();
}

Node::~Node() { stop_worker(); }

void Node::add(Method method, std::string pattern, std::string action, Handler h,
               bool index_scoped) {
    // the router only tells which route matched; its id indexes routes_
    routes_.push_back({std::move(action), index_scoped, std::move(h)});
    router_.add(method, std::move(pattern), http::Access::open, nullptr);
}

void Node::authorize(const Request& request, const Route& route) const {
    const bool keys_route = route.action.starts_with("keys.");
    std::optional<std::string> token;
    if (auto header = request.headers.get("Authorization")) {
        const auto space = header->find(' ');
        if (header->substr(0, space) != "Bearer") {
            throw error(401, "missing_authorization_header",
                        "The Authorization header is missing. It must use the bearer "
                        "authorization method.",
                        ErrorType::auth);
        }
        if (space == std::string_view::npos) {
            throw error(403, "invalid_api_key", "The provided API key is invalid.",
                        ErrorType::auth);
        }
        token = std::string(header->substr(space + 1));
    }
    if (route.action.empty()) return;
    if (state_.master_key.empty()) {
        if (keys_route) {
            throw error(401, "missing_master_key",
                        "Meilisearch is running without a master key. To access this API "
                        "endpoint, you must have set a master key at launch.",
                        ErrorType::auth);
        }
        return;
    }
    if (!token) {
        throw error(401, "missing_authorization_header",
                    "The Authorization header is missing. It must use the bearer authorization "
                    "method.",
                    ErrorType::auth);
    }
    if (secret_equals(*token, state_.master_key)) return;
    const Key* key = nullptr;
    for (const auto& k : state_.keys) {
        if (secret_equals(k.key, *token)) key = &k;
    }
    const auto invalid =
        error(403, "invalid_api_key", "The provided API key is invalid.", ErrorType::auth);
    if (!key || !miroir::http::action_allows(key->actions, route.action)) throw invalid;
    if (key->expires_at && *key->expires_at < now()) throw invalid;
    if (route.index_scoped) {
        const auto uid = std::string(request.param("uid"));
        if (!uid.empty() && !miroir::http::index_allows(key->indexes, uid)) {
            json list = key->indexes;
            throw error(403, "invalid_api_key",
                        "The API key cannot acces the index `" + uid +
                            "`, authorized indexes are " + list.dump() + ".",
                        ErrorType::auth);
        }
    }
}

void Node::authorize_index(const Request& request, const std::string& uid) const {
    if (state_.master_key.empty()) return;
    const auto header = request.headers.get("Authorization");
    if (!header || header->size() < 7) return;  // already refused by authorize()
    const std::string token(header->substr(7));
    if (secret_equals(token, state_.master_key)) return;
    for (const auto& k : state_.keys) {
        if (secret_equals(k.key, token) && !miroir::http::index_allows(k.indexes, uid)) {
            json list = k.indexes;
            throw error(403, "invalid_api_key",
                        "The API key cannot acces the index `" + uid +
                            "`, authorized indexes are " + list.dump() + ".",
                        ErrorType::auth);
        }
    }
}

Response Node::handle(Request& request) {
    try {
        const auto match = router_.match(request.method, request.path);
        if (!match.route) {
            Response r;
            r.status = match.path_exists ? 405 : 404;
            return r;
        }
        for (auto& [name, value] : match.params) request.params.emplace(name, value);
        const auto& route = routes_.at(match.route->id);
        {
            std::lock_guard lock(state_.mutex);
            authorize(request, route);
        }
        if (request.body_too_large) {
            throw miroir::http::errors::payload_too_large(100'000'000);
        }
        return route.handler(request);
    } catch (const ApiError& e) {
        return e.response();
    } catch (const std::exception& e) {
        return miroir::http::errors::internal(e.what()).response();
    }
}

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
    add(Method::get, "/stats", "stats.get", [this](Request& r) {
        Query q(r.query, {"showInternalDatabaseSizes", "sizeFormat"});
        std::lock_guard lock(state_.mutex);
        json indexes = json::object();
        std::uint64_t size = 0;
        for (const auto& [uid, index] : state_.indexes) {
            bool indexing = false;
            for (const auto& [tuid, t] : state_.tasks) {
                if (t.index_uid == uid && (t.status == "enqueued" || t.status == "processing")) {
                    indexing = true;
                }
            }
            indexes[uid] = index_stats(index, indexing);
            size += indexes[uid]["rawDocumentDbSize"].get<std::uint64_t>();
        }
        json j;
        j["databaseSize"] = size;
        j["usedDatabaseSize"] = size;
        j["lastUpdate"] = state_.has_update ? json(rfc3339(state_.last_update)) : json(nullptr);
        j["indexes"] = indexes;
        return respond(200, j);
    });
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
    auto features = std::make_shared<json>();
    for (const auto& f : kFeatures) (*features)[f] = false;
    add(Method::get, "/experimental-features", "experimental.get", [this, features](Request&) {
        std::lock_guard lock(state_.mutex);
        return respond(200, *features);
    });
    add(Method::patch, "/experimental-features", "experimental.update",
        [this, features](Request& r) {
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
                                      "`: expected a boolean, but found " +
                                      found_value(it.value()));
                }
                if (it.value().is_boolean()) (*features)[it.key()] = it.value();
            }
            return respond(200, *features);
        });
}

void Node::add_key_routes() {
    auto find_key = [this](const std::string& uid_or_key) -> Key& {
        for (auto& k : state_.keys) {
            if (k.uid == uid_or_key || k.key == uid_or_key) return k;
        }
        throw error(404, "api_key_not_found", "API key `" + uid_or_key + "` not found.");
    };
    add(
        Method::get, "/keys", "keys.get",
        [this](Request& r) {
            Query q(r.query, {"offset", "limit"});
            const auto offset = q.get_uint("offset", "invalid_api_key_offset").value_or(0);
            const auto limit = q.get_uint("limit", "invalid_api_key_limit").value_or(20);
            std::lock_guard lock(state_.mutex);
            std::vector<const Key*> keys;
            for (const auto& k : state_.keys) keys.push_back(&k);
            std::stable_sort(keys.begin(), keys.end(),
                             [](auto a, auto b) { return a->created_at > b->created_at; });
            json results = json::array();
            for (std::size_t i = offset; i < keys.size() && results.size() < limit; ++i) {
                results.push_back(keys[i]->to_json());
            }
            return respond(200, json{{"results", results},
                                     {"offset", offset},
                                     {"limit", limit},
                                     {"total", keys.size()}});
        },
        false);
    add(
        Method::post, "/keys", "keys.create",
        [this](Request& r) {
            const auto body = json_body(r);
            if (!body.is_object()) throw bad_request("Json deserialize error: expected an object");
            static const std::vector<std::string> kFields = {"description", "name",    "uid",
                                                             "actions",     "indexes", "expiresAt"};
            for (auto it = body.begin(); it != body.end(); ++it) {
                if (std::find(kFields.begin(), kFields.end(), it.key()) == kFields.end()) {
                    throw bad_request("Unknown field `" + it.key() + "`: expected one of " +
                                      backquoted_list(kFields));
                }
            }
            auto missing = [](const char* field, const char* code) {
                return error(400, code, std::string("Missing field `") + field + "`");
            };
            if (!body.contains("actions")) throw missing("actions", "missing_api_key_actions");
            if (!body.contains("indexes")) throw missing("indexes", "missing_api_key_indexes");
            if (!body.contains("expiresAt"))
                throw missing("expiresAt", "missing_api_key_expires_at");
            Key k;
            auto string_list = [](const json& v, const char* field, const char* code) {
                if (!v.is_array()) {
                    throw error(400, code,
                                std::string("Invalid value type at `.") + field +
                                    "`: expected an array, but found " + found_value(v));
                }
                std::vector<std::string> out;
                for (const auto& item : v) {
                    if (!item.is_string()) {
                        throw error(400, code,
                                    std::string("Invalid value type at `.") + field +
                                        "`: expected a string, but found " + found_value(item));
                    }
                    out.push_back(item.get<std::string>());
                }
                return out;
            };
            k.actions = string_list(body["actions"], "actions", "invalid_api_key_actions");
            k.indexes = string_list(body["indexes"], "indexes", "invalid_api_key_indexes");
            for (const auto& idx : k.indexes) {
                if (idx != "*" && !(idx.ends_with("*"))) check_index_uid(idx);
            }
            if (!body["expiresAt"].is_null()) {
                if (!body["expiresAt"].is_string() ||
                    !parse_date(body["expiresAt"].get<std::string>())) {
                    throw error(
                        400, "invalid_api_key_expires_at",
                        "Invalid value at `.expiresAt`: `" + body["expiresAt"].dump() +
                            "` is not a valid date. It should follow the RFC 3339 format to "
                            "represents a date or datetime in the future or specified as a "
                            "null value. e.g. 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'.");
                }
                k.expires_at = parse_date(body["expiresAt"].get<std::string>());
                if (*k.expires_at < now()) {
                    throw error(
                        400, "invalid_api_key_expires_at",
                        "Invalid value at `.expiresAt`: `" + body["expiresAt"].get<std::string>() +
                            "` is not a valid date. It should follow the RFC 3339 format to "
                            "represents a date or datetime in the future or specified as a "
                            "null value. e.g. 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'.");
                }
            }
            const bool every_index =
                k.indexes.empty() ||
                std::find(k.indexes.begin(), k.indexes.end(), "*") != k.indexes.end();
            for (const auto& action : k.actions) {
                if (every_index) break;
                const auto family = action.substr(0, action.find('.'));
                static const std::set<std::string> kGlobalOnly = {
                    "dumps",   "snapshots",    "version", "keys",     "experimental",
                    "export",  "network",      "chats",   "webhooks", "dynamicSearchRules",
                    "metrics", "chatsSettings"};
                if (kGlobalOnly.contains(family) || action == "tasks.compact") {
                    const auto quoted = "`\"" + action + "\"`";
                    throw error(400, "index_scoped_api_key_with_global_action",
                                "cannot create index-scoped API key with global action " + quoted +
                                    "\n  - Hint: remove action " + quoted +
                                    " from the action list, or remove `indexes` to make the "
                                    "key global");
                }
            }
            for (const char* f : {"name", "description"}) {
                if (body.contains(f) && !body[f].is_null()) {
                    if (!body[f].is_string()) {
                        throw error(400, std::string("invalid_api_key_") + f,
                                    std::string("Invalid value type at `.") + f +
                                        "`: expected a string, but found " + found_value(body[f]));
                    }
                    (std::string(f) == "name" ? k.name : k.description) =
                        body[f].get<std::string>();
                }
            }
            std::lock_guard lock(state_.mutex);
            if (body.contains("uid") && !body["uid"].is_null()) {
                if (!body["uid"].is_string() || body["uid"].get<std::string>().size() != 36) {
                    throw error(400, "invalid_api_key_uid",
                                "Invalid value at `.uid`: invalid length: expected length 32 for "
                                "simple format, found " +
                                    std::to_string(body["uid"].dump().size()));
                }
                k.uid = body["uid"].get<std::string>();
                std::transform(k.uid.begin(), k.uid.end(), k.uid.begin(), ::tolower);
                for (const auto& existing : state_.keys) {
                    if (existing.uid == k.uid) {
                        throw error(
                            409, "api_key_already_exists",
                            "`uid` field value `" + k.uid + "` is already an existing API key.");
                    }
                }
            } else {
                k.uid = new_uuid();
            }
            k.key = miroir::http::derive_key(state_.master_key, k.uid);
            k.created_at = k.updated_at = now();
            state_.keys.push_back(k);
            return respond(201, k.to_json());
        },
        false);
    add(
        Method::get, "/keys/{key}", "keys.get",
        [this, find_key](Request& r) {
            std::lock_guard lock(state_.mutex);
            return respond(200, find_key(std::string(r.param("key"))).to_json());
        },
        false);
    add(
        Method::patch, "/keys/{key}", "keys.update",
        [this, find_key](Request& r) {
            const auto body = json_body(r);
            std::lock_guard lock(state_.mutex);
            Key& k = find_key(std::string(r.param("key")));
            for (auto it = body.begin(); it != body.end(); ++it) {
                const auto& f = it.key();
                if (f == "name" || f == "description") {
                    if (!it.value().is_null() && !it.value().is_string()) {
                        throw error(400, "invalid_api_key_" + f,
                                    "Invalid value type at `." + f +
                                        "`: expected a string, but found " +
                                        found_value(it.value()));
                    }
                    auto& target = f == "name" ? k.name : k.description;
                    if (it.value().is_null())
                        target.reset();
                    else
                        target = it.value().get<std::string>();
                } else if (f == "uid" || f == "actions" || f == "indexes" || f == "expiresAt" ||
                           f == "createdAt" || f == "updatedAt") {
                    throw error(400, "immutable_api_key_" + snake_case(f),
                                "The `" + f + "` field cannot be modified for the given resource.");
                } else {
                    throw bad_request("Unknown field `" + f +
                                      "`: expected one of `description`, `name`");
                }
            }
            k.updated_at = now();
            return respond(200, k.to_json());
        },
        false);
    add(
        Method::del, "/keys/{key}", "keys.delete",
        [this, find_key](Request& r) {
            std::lock_guard lock(state_.mutex);
            Key& k = find_key(std::string(r.param("key")));
            std::erase_if(state_.keys, [&](const Key& x) { return x.uid == k.uid; });
            Response res;
            res.status = 204;
            return res;
        },
        false);
}

void Node::add_index_routes() {
    add(
        Method::get, "/indexes", "indexes.get",
        [this](Request& r) {
            Query q(r.query, {"offset", "limit"});
            const auto offset = q.get_uint("offset", "invalid_index_offset").value_or(0);
            const auto limit = q.get_uint("limit", "invalid_index_limit").value_or(20);
            std::lock_guard lock(state_.mutex);
            json results = json::array();
            std::size_t i = 0;
            for (const auto& [uid, index] : state_.indexes) {
                if (i++ >= offset && results.size() < limit) results.push_back(index_json(index));
            }
            return respond(200, json{{"results", results},
                                     {"offset", offset},
                                     {"limit", limit},
                                     {"total", state_.indexes.size()}});
        },
        false);
    add(
        Method::post, "/indexes", "indexes.create",
        [this](Request& r) {
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
            check_index_uid(uid);
            json pk = body.value("primaryKey", json(nullptr));
            if (!pk.is_null() && !pk.is_string()) {
                throw error(400, "invalid_index_primary_key",
                            "Invalid value type at `.primaryKey`: expected a string, but found " +
                                found_value(pk));
            }
            std::lock_guard lock(state_.mutex);
            Operation op;
            if (pk.is_string()) op.primary_key = pk.get<std::string>();
            return respond(
                202, state_.enqueue("indexCreation", uid, json{{"primaryKey", pk}}, std::move(op))
                         .summary());
        },
        false);
    add(Method::get, "/indexes/{uid}", "indexes.get", [this](Request& r) {
        const std::string uid(r.param("uid"));
        check_index_uid(uid);
        std::lock_guard lock(state_.mutex);
        auto it = state_.indexes.find(uid);
        if (it == state_.indexes.end()) throw index_not_found(uid);
        return respond(200, index_json(it->second));
    });
    add(Method::patch, "/indexes/{uid}", "indexes.update", [this](Request& r) {
        const std::string uid(r.param("uid"));
        check_index_uid(uid);
        const auto body = json_body(r);
        for (auto it = body.begin(); it != body.end(); ++it) {
            if (it.key() == "createdAt" || it.key() == "updatedAt") {
                throw error(
                    400,
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
            throw error(400, "invalid_index_primary_key",
                        "Invalid value type at `.primaryKey`: expected a string, but found " +
                            found_value(pk));
        }
        if (pk.is_string()) op.primary_key = pk.get<std::string>();
        details["primaryKey"] = pk;
        if (body.contains("uid") && body["uid"].is_string()) {
            op.new_uid = body["uid"].get<std::string>();
            check_index_uid(*op.new_uid);
            details["oldIndexUid"] = uid;
            details["newIndexUid"] = *op.new_uid;
        }
        std::lock_guard lock(state_.mutex);
        return respond(202, state_.enqueue("indexUpdate", uid, details, std::move(op)).summary());
    });
    add(Method::del, "/indexes/{uid}", "indexes.delete", [this](Request& r) {
        const std::string uid(r.param("uid"));
        check_index_uid(uid);
        std::lock_guard lock(state_.mutex);
        return respond(
            202,
            state_.enqueue("indexDeletion", uid, json{{"deletedDocuments", nullptr}}).summary());
    });
    add(Method::get, "/indexes/{uid}/stats", "stats.get", [this](Request& r) {
        const std::string uid(r.param("uid"));
        check_index_uid(uid);
        std::lock_guard lock(state_.mutex);
        auto it = state_.indexes.find(uid);
        if (it == state_.indexes.end()) throw index_not_found(uid);
        bool indexing = false;
        for (const auto& [tuid, t] : state_.tasks) {
            if (t.index_uid == uid && (t.status == "enqueued" || t.status == "processing")) {
                indexing = true;
            }
        }
        return respond(200, index_stats(it->second, indexing));
    });
    add(
        Method::post, "/swap-indexes", "indexes.swap",
        [this](Request& r) {
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
                                "Two indexes must be given for each swap. The list `" +
                                    pair.dump() + "` contains " + std::to_string(pair.size()) +
                                    " indexes.");
                }
                for (const auto& u : pair) check_index_uid(u.get<std::string>());
                swaps.push_back(json{{"indexes", pair}, {"rename", entry.value("rename", false)}});
            }
            std::lock_guard lock(state_.mutex);
            Operation op;
            op.swaps = swaps;
            return respond(
                202,
                state_.enqueue("indexSwap", std::nullopt, json{{"swaps", swaps}}, op).summary());
        },
        false);
}

void Node::add_task_routes() {
    add(
        Method::get, "/tasks", "tasks.get",
        [this](Request& r) {
            Query q(r.query,
                    {"uids", "batchUids", "canceledBy", "types", "statuses", "indexUids",
                     "beforeEnqueuedAt", "afterEnqueuedAt", "beforeStartedAt", "afterStartedAt",
                     "beforeFinishedAt", "afterFinishedAt", "limit", "from", "reverse"});
            TaskFilter filter(q);
            const auto limit = q.get_uint("limit", "invalid_task_limit").value_or(20);
            const auto from = q.get_uint("from", "invalid_task_from");
            const bool reverse = q.get_bool("reverse", "invalid_task_reverse").value_or(false);
            std::lock_guard lock(state_.mutex);
            std::vector<const Task*> matched;
            for (const auto& [uid, t] : state_.tasks) {
                if (filter.matches(t)) matched.push_back(&t);
            }
            if (!reverse) std::reverse(matched.begin(), matched.end());
            json results = json::array();
            std::optional<std::uint32_t> next;
            for (const Task* t : matched) {
                if (from && (reverse ? t->uid < *from : t->uid > *from)) continue;
                if (results.size() == limit) {
                    next = t->uid;
                    break;
                }
                results.push_back(t->to_json());
            }
            json j;
            j["results"] = results;
            j["total"] = matched.size();
            j["limit"] = limit;
            j["from"] = results.empty() ? json(nullptr) : results[0]["uid"];
            j["next"] = next ? json(*next) : json(nullptr);
            return respond(200, j);
        },
        false);
    add(
        Method::get, "/tasks/{uid}", "tasks.get",
        [this](Request& r) {
            const auto uid = parse_task_uid(std::string(r.param("uid")));
            std::lock_guard lock(state_.mutex);
            auto it = state_.tasks.find(uid);
            if (it == state_.tasks.end()) {
                throw error(404, "task_not_found", "Task `" + std::to_string(uid) + "` not found.");
            }
            return respond(200, it->second.to_json());
        },
        false);
    auto cancel_or_delete = [this](bool cancel) {
        return [this, cancel](Request& r) {
            Query q(r.query, kTaskFilterParams);
            TaskFilter filter(q);
            if (!filter.any) {
                throw error(400, "missing_task_filters",
                            std::string("Query parameters to filter the tasks to ") +
                                (cancel ? "cancel" : "delete") +
                                " are missing. Available query parameters are: `uids`, "
                                "`indexUids`, `statuses`, `types`, `canceledBy`, "
                                "`beforeEnqueuedAt`, `afterEnqueuedAt`, `beforeStartedAt`, "
                                "`afterStartedAt`, `beforeFinishedAt`, `afterFinishedAt`.");
            }
            std::lock_guard lock(state_.mutex);
            Operation op;
            for (const auto& [uid, t] : state_.tasks) {
                if (filter.matches(t)) op.matched.push_back(uid);
            }
            json details;
            details["matchedTasks"] = op.matched.size();
            details[cancel ? "canceledTasks" : "deletedTasks"] = nullptr;
            details["originalFilter"] = "?" + r.query;
            auto& task = state_.enqueue(cancel ? "taskCancelation" : "taskDeletion", std::nullopt,
                                        details, std::move(op));
            return respond(200, task.summary());
        };
    };
    add(Method::post, "/tasks/cancel", "tasks.cancel", cancel_or_delete(true), false);
    add(Method::del, "/tasks", "tasks.delete", cancel_or_delete(false), false);
}

void Node::start_worker() {
    worker_ = std::thread([this] { worker_loop(); });
}

void Node::stop_worker() {
    {
        std::lock_guard lock(state_.mutex);
        state_.stopping = true;
    }
    state_.work.notify_all();
    if (worker_.joinable()) worker_.join();
}

void Node::worker_loop() {
    std::unique_lock lock(state_.mutex);
    for (;;) {
        // the next task: cancelations and deletions jump the queue, as in Meilisearch
        Task* next = nullptr;
        const auto queue = faults_.find("queue");
        const bool paused = queue != faults_.end() && queue->second.hang;
        for (auto& [uid, t] : state_.tasks) {
            if (t.status != "enqueued") continue;
            if (paused && t.type != "taskCancelation" && t.type != "taskDeletion") continue;
            if (t.type == "taskCancelation") {
                next = &t;
                break;
            }
            if (t.type == "taskDeletion" && (!next || next->type != "taskDeletion")) {
                next = &t;
            } else if (!next) {
                next = &t;
            }
        }
        if (!next) {
            if (state_.stopping) return;
            state_.work.wait(lock);
            continue;
        }
        next->status = "processing";
        next->batch_uid = state_.next_batch_uid++;
        next->started_at = now();
        process(*next);
        next->finished_at = now();
        next->op = Operation{};  // the payload is not kept once processed
        state_.last_update = *next->finished_at;
        state_.has_update = true;
    }
}

void Node::process(Task& task) {
    try {
        const std::string& type = task.type;
        const auto uid = task.index_uid.value_or("");
        if (type == "indexCreation") {
            if (state_.indexes.count(uid)) {
                throw error(409, "index_already_exists", "Index `" + uid + "` already exists.");
            }
            create_index(state_, uid, task.op.primary_key);
        } else if (type == "indexUpdate") {
            auto it = state_.indexes.find(uid);
            if (it == state_.indexes.end()) throw index_not_found(uid);
            Index& index = it->second;
            if (task.op.primary_key && index.primary_key != task.op.primary_key) {
                if (index.size() > 0) {
                    throw error(400, "index_primary_key_already_exists",
                                "Index `" + uid + "`: Index already has a primary key: `" +
                                    index.primary_key.value_or("") + "`.");
                }
                index.primary_key = task.op.primary_key;
            }
            if (task.op.new_uid && *task.op.new_uid != uid) {
                if (state_.indexes.count(*task.op.new_uid)) {
                    throw error(409, "index_already_exists",
                                "Index `" + *task.op.new_uid + "` already exists.");
                }
                Index moved = std::move(index);
                state_.indexes.erase(it);
                moved.uid = *task.op.new_uid;
                moved.updated_at = now();
                state_.indexes.emplace(moved.uid, std::move(moved));
            } else {
                index.updated_at = now();
            }
        } else if (type == "indexDeletion") {
            auto it = state_.indexes.find(uid);
            if (it == state_.indexes.end()) throw index_not_found(uid);
            task.details["deletedDocuments"] = it->second.size();
            state_.indexes.erase(it);
        } else if (type == "indexSwap") {
            std::vector<std::string> missing;
            for (const auto& swap : task.op.swaps) {
                for (const auto& u : swap["indexes"]) {
                    const auto name = u.get<std::string>();
                    const bool rename = swap["rename"].get<bool>();
                    if (!state_.indexes.count(name) && !(rename && name == swap["indexes"][1])) {
                        missing.push_back(name);
                    }
                }
            }
            if (!missing.empty()) {
                std::string list;
                for (const auto& m : missing) list += (list.empty() ? "`" : ", `") + m + "`";
                throw error(404, "index_not_found",
                            (missing.size() == 1 ? "Index " : "Indexes ") + list + " not found.");
            }
            for (const auto& swap : task.op.swaps) {
                const auto a = swap["indexes"][0].get<std::string>();
                const auto b = swap["indexes"][1].get<std::string>();
                if (swap["rename"].get<bool>()) {
                    Index moved = std::move(state_.indexes.at(a));
                    state_.indexes.erase(a);
                    moved.uid = b;
                    state_.indexes.emplace(b, std::move(moved));
                } else {
                    std::swap(state_.indexes.at(a), state_.indexes.at(b));
                    state_.indexes.at(a).uid = a;
                    state_.indexes.at(b).uid = b;
                }
            }
        } else if (type == "documentAdditionOrUpdate") {
            apply_documents(state_, task);
        } else if (type == "documentDeletion") {
            apply_document_deletion(state_, task);
        } else if (type == "settingsUpdate") {
            apply_settings(state_, task);
        } else if (type == "taskCancelation") {
            std::uint64_t canceled = 0;
            for (auto uid_ : task.op.matched) {
                auto it = state_.tasks.find(uid_);
                if (it != state_.tasks.end() && it->second.status == "enqueued") {
                    it->second.status = "canceled";
                    it->second.canceled_by = task.uid;
                    it->second.started_at = it->second.finished_at = now();
                    ++canceled;
                }
            }
            task.details["canceledTasks"] = canceled;
        } else if (type == "taskDeletion") {
            std::uint64_t deleted = 0;
            for (auto uid_ : task.op.matched) {
                auto it = state_.tasks.find(uid_);
                if (it != state_.tasks.end() && it->second.status != "enqueued" &&
                    it->second.status != "processing") {
                    state_.tasks.erase(it);
                    ++deleted;
                }
            }
            task.details["deletedTasks"] = deleted;
        } else if (type == "dumpCreation") {
            task.details["dumpUid"] = rfc3339(now());
        }
        task.status = "succeeded";
    } catch (const ApiError& e) {
        task.status = "failed";
        task.error = json::parse(e.body());
        if (task.type == "documentAdditionOrUpdate") task.details["indexedDocuments"] = 0;
        if (task.type == "documentDeletion") task.details["deletedDocuments"] = 0;
        if (task.type == "indexDeletion") task.details["deletedDocuments"] = 0;
    }
}

}  // namespace devnode
