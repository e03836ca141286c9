// The development node: route table, auth and the task worker (the route families are in
// index_routes.cpp, key_routes.cpp, task_routes.cpp, documents.cpp and search_routes.cpp).
#include "node.hpp"

#include <algorithm>
#include <openssl/crypto.h>
#include <set>

#include <miroir/http/api_error.hpp>
#include <miroir/http/api_keys.hpp>
#include <miroir/http/encoding.hpp>
#include <miroir/http/task_names.hpp>
#include <miroir/http/tenant_token.hpp>
#include <miroir/util/size.hpp>

namespace devnode {

namespace http = miroir::http;
using http::Method;

namespace {

bool secret_equals(const std::string& a, const std::string& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

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

SizeDisplay::SizeDisplay(const Query& q)
    : internal(q.get_bool("showInternalDatabaseSizes", "invalid_stats_show_internal_database_sizes")
                   .value_or(false)) {
    const auto format = q.get("sizeFormat");
    if (format && *format != "human" && *format != "raw") {
        throw error(400, "invalid_stats_size_format",
                    "Unknown value `" + *format +
                        "` for parameter `sizeFormat`: expected one of `human`, `raw`");
    }
    human = format == "human";
}

json SizeDisplay::operator()(std::uint64_t bytes) const {
    return human ? json(miroir::util::human_size(bytes)) : json(bytes);
}

json index_stats(const Index& index, bool indexing, const SizeDisplay& sizes) {
    const std::uint64_t bytes = index.raw_bytes;
    json j;
    j["numberOfDocuments"] = index.size();
    j["rawDocumentDbSize"] = sizes(bytes);
    j["avgDocumentSize"] = sizes(index.size() ? bytes / index.size() : 0);
    j["isIndexing"] = indexing;
    // one database here: the documents
    if (sizes.internal) j["internalDatabaseSizes"]["documents"] = sizes(bytes);
    j["numberOfEmbeddings"] = 0;
    j["numberOfEmbeddedDocuments"] = 0;
    json dist = json::object();
    for (const auto& [k, v] : index.field_counts) dist[k] = v;
    j["fieldDistribution"] = dist;
    return j;
}

Node::Node(std::string master_key, std::string dump_dir) {
    dumps_.dir = std::move(dump_dir);
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
    add_chat_routes();
    add_webhook_routes();
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

void Node::authorize(Request& request, const Route& route) const {
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
    if (!key && authorize_tenant(request, route, *token)) return;
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

bool Node::authorize_tenant(Request& request, const Route& route, const std::string& token) const {
    const auto signer = [this](const std::string& uid) -> const Key* {
        for (const auto& k : state_.keys) {
            if (k.uid == uid) return &k;
        }
        return nullptr;
    };
    const auto parsed = miroir::http::verify_tenant_token(
        token, [&signer](const std::string& uid) -> std::optional<std::string> {
            const Key* k = signer(uid);
            return k ? std::optional(k->key) : std::nullopt;
        });
    if (!parsed) return false;
    const auto invalid =
        error(403, "invalid_api_key", "The provided API key is invalid.", ErrorType::auth);
    const Key* key = signer(parsed->api_key_uid);
    // tenant tokens open the search routes only, with a key that may search
    if (route.action != "search" || !miroir::http::action_allows(key->actions, "search")) {
        throw invalid;
    }
    if (key->expires_at && *key->expires_at < now()) throw invalid;
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
    miroir::http::check_tenant_expiry(*parsed, seconds);
    if (route.index_scoped) {
        const auto uid = std::string(request.param("uid"));
        if (!uid.empty()) miroir::http::check_tenant_index(parsed->rules, uid, key->indexes);
    }
    request.tenant_rules = parsed->rules;
    request.key_indexes = key->indexes;
    return true;
}

void Node::authorize_index(const Request& request, const std::string& uid) const {
    if (state_.master_key.empty()) return;
    if (request.tenant_rules) {  // a tenant token, checked by authorize()
        miroir::http::check_tenant_index(
            *request.tenant_rules, uid,
            request.key_indexes.value_or(std::vector<std::string>{"*"}));
        return;
    }
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
        if (const auto coding = request.headers.get("Content-Encoding")) {
            // a compressed body, as Meilisearch reads it (an export sends gzip'd NDJSON)
            request.body =
                miroir::http::decoded_body(*coding, std::move(request.body), 100'000'000);
        }
        return route.handler(request);
    } catch (const ApiError& e) {
        return e.response();
    } catch (const std::exception& e) {
        return miroir::http::errors::internal(e.what()).response();
    }
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
        // `queue` with `latencyMs`: each task takes that long (the lock is released meanwhile)
        if (queue != faults_.end() && queue->second.latency_ms) {
            const auto uid = next->uid;
            const auto latency = std::chrono::milliseconds(queue->second.latency_ms);
            state_.work.wait_for(lock, latency, [this] { return state_.stopping; });
            const auto it = state_.tasks.find(uid);
            if (it == state_.tasks.end()) continue;
            next = &it->second;
        }
        process(*next);
        next->finished_at = now();
        next->op = Operation{};  // the payload is not kept once processed
        state_.last_update = *next->finished_at;
        state_.has_update = true;
    }
}

namespace {

// indexCreation.
void create_index_task(State& state, const Task& task, const std::string& uid) {
    if (state.indexes.count(uid)) {
        throw error(409, "index_already_exists", "Index `" + uid + "` already exists.");
    }
    create_index(state, uid, task.op.primary_key);
}

// indexUpdate: a new primary key (only while the index is empty), or a new uid.
void update_index(State& state, const Task& task, const std::string& uid) {
    auto it = state.indexes.find(uid);
    if (it == state.indexes.end()) throw index_not_found(uid);
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
        if (state.indexes.count(*task.op.new_uid)) {
            throw error(409, "index_already_exists",
                        "Index `" + *task.op.new_uid + "` already exists.");
        }
        Index moved = std::move(index);
        state.indexes.erase(it);
        moved.uid = *task.op.new_uid;
        moved.updated_at = now();
        state.indexes.emplace(moved.uid, std::move(moved));
    } else {
        index.updated_at = now();
    }
}

// indexDeletion.
void delete_index(State& state, Task& task, const std::string& uid) {
    auto it = state.indexes.find(uid);
    if (it == state.indexes.end()) throw index_not_found(uid);
    task.details["deletedDocuments"] = it->second.size();
    state.indexes.erase(it);
}

// indexSwap: every index named must exist (the second of a rename need not); then each pair
// swaps, or the first is renamed to the second.
void swap_indexes(State& state, const Task& task) {
    std::vector<std::string> missing;
    for (const auto& swap : task.op.swaps) {
        for (const auto& u : swap["indexes"]) {
            const auto name = u.get<std::string>();
            const bool rename = swap["rename"].get<bool>();
            if (!state.indexes.count(name) && !(rename && name == swap["indexes"][1])) {
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
            Index moved = std::move(state.indexes.at(a));
            state.indexes.erase(a);
            moved.uid = b;
            state.indexes.emplace(b, std::move(moved));
        } else {
            std::swap(state.indexes.at(a), state.indexes.at(b));
            state.indexes.at(a).uid = a;
            state.indexes.at(b).uid = b;
        }
    }
}

// taskCancelation: the matched tasks still enqueued.
void cancel_tasks(State& state, Task& task) {
    std::uint64_t canceled = 0;
    for (auto uid : task.op.matched) {
        auto it = state.tasks.find(uid);
        if (it != state.tasks.end() && it->second.status == "enqueued") {
            it->second.status = "canceled";
            it->second.canceled_by = task.uid;
            it->second.started_at = it->second.finished_at = now();
            ++canceled;
        }
    }
    task.details["canceledTasks"] = canceled;
}

// taskDeletion: the matched tasks that are finished.
void delete_tasks(State& state, Task& task) {
    std::uint64_t deleted = 0;
    for (auto uid : task.op.matched) {
        auto it = state.tasks.find(uid);
        if (it != state.tasks.end() && it->second.status != "enqueued" &&
            it->second.status != "processing") {
            state.tasks.erase(it);
            ++deleted;
        }
    }
    task.details["deletedTasks"] = deleted;
}

// Applies a task of any type; throws ApiError when it fails.
void apply_task(State& state, Task& task, const DumpOptions& dumps) {
    const std::string& type = task.type;
    const auto uid = task.index_uid.value_or("");
    if (type == "indexCreation") {
        create_index_task(state, task, uid);
    } else if (type == "indexUpdate") {
        update_index(state, task, uid);
    } else if (type == "indexDeletion") {
        delete_index(state, task, uid);
    } else if (type == "indexSwap") {
        swap_indexes(state, task);
    } else if (type == "documentAdditionOrUpdate") {
        apply_documents(state, task);
    } else if (type == "documentDeletion") {
        apply_document_deletion(state, task);
    } else if (type == "settingsUpdate") {
        apply_settings(state, task);
    } else if (type == "taskCancelation") {
        cancel_tasks(state, task);
    } else if (type == "taskDeletion") {
        delete_tasks(state, task);
    } else if (type == "dumpCreation") {
        create_dump(state, task, dumps);
    } else if (type == "indexCompaction") {
        // nothing to reclaim in memory: the same size before and after
        const auto it = state.indexes.find(uid);
        if (it == state.indexes.end()) throw index_not_found(uid);
        task.details["preCompactionSize"] = miroir::util::human_size(it->second.raw_bytes);
        task.details["postCompactionSize"] = miroir::util::human_size(it->second.raw_bytes);
    } else if (type == "documentEdition") {
        // Rhai is Meilisearch's: the task fails rather than pretend
        throw error(501, "internal",
                    "The development node does not run document edition functions.",
                    ErrorType::internal);
    }
}

}  // namespace

void Node::process(Task& task) {
    try {
        apply_task(state_, task, dumps_);
        task.status = "succeeded";
    } catch (const ApiError& e) {
        task.status = "failed";
        task.error = json::parse(e.body());
        if (task.type == "documentAdditionOrUpdate") task.details["indexedDocuments"] = 0;
        if (task.type == "documentDeletion") task.details["deletedDocuments"] = 0;
        if (task.type == "indexDeletion") task.details["deletedDocuments"] = 0;
        if (task.type == "documentEdition") task.details["editedDocuments"] = 0;
    }
}

}  // namespace devnode
