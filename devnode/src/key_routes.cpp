// The development node's API key routes: /keys and /keys/{key}.
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

Key& find_key(State& state, const std::string& uid_or_key) {
    for (auto& k : state.keys) {
        if (k.uid == uid_or_key || k.key == uid_or_key) return k;
    }
    throw error(404, "api_key_not_found", "API key `" + uid_or_key + "` not found.");
}

Response list_keys(State& state, Request& r) {
    Query q(r.query, {"offset", "limit"});
    const auto offset = q.get_uint("offset", "invalid_api_key_offset").value_or(0);
    const auto limit = q.get_uint("limit", "invalid_api_key_limit").value_or(20);
    std::lock_guard lock(state.mutex);
    std::vector<const Key*> keys;
    for (const auto& k : state.keys) keys.push_back(&k);
    std::stable_sort(keys.begin(), keys.end(),
                     [](auto a, auto b) { return a->created_at > b->created_at; });
    json results = json::array();
    for (std::size_t i = offset; i < keys.size() && results.size() < limit; ++i) {
        results.push_back(keys[i]->to_json());
    }
    return respond(
        200,
        json{{"results", results}, {"offset", offset}, {"limit", limit}, {"total", keys.size()}});
}

// A key's `expiresAt`: null, or an RFC 3339 date in the future.
std::optional<Time> expires_at_of(const json& value) {
    if (value.is_null()) return std::nullopt;
    if (!value.is_string() || !parse_date(value.get<std::string>())) {
        throw error(400, "invalid_api_key_expires_at",
                    "Invalid value at `.expiresAt`: `" + value.dump() +
                        "` is not a valid date. It should follow the RFC 3339 format to "
                        "represents a date or datetime in the future or specified as a "
                        "null value. e.g. 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'.");
    }
    const auto at = parse_date(value.get<std::string>());
    if (*at < now()) {
        throw error(400, "invalid_api_key_expires_at",
                    "Invalid value at `.expiresAt`: `" + value.get<std::string>() +
                        "` is not a valid date. It should follow the RFC 3339 format to "
                        "represents a date or datetime in the future or specified as a "
                        "null value. e.g. 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'.");
    }
    return at;
}

// An index-scoped key may not hold a global action (Meilisearch's rule).
void check_global_actions(const Key& k) {
    const bool every_index =
        k.indexes.empty() || std::find(k.indexes.begin(), k.indexes.end(), "*") != k.indexes.end();
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
}

// A new key from a POST /keys body, checked as Meilisearch checks it (no uid yet).
Key key_from_body(const json& body) {
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
    if (!body.contains("expiresAt")) throw missing("expiresAt", "missing_api_key_expires_at");
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
    k.expires_at = expires_at_of(body["expiresAt"]);
    check_global_actions(k);
    for (const char* f : {"name", "description"}) {
        if (body.contains(f) && !body[f].is_null()) {
            if (!body[f].is_string()) {
                throw error(400, std::string("invalid_api_key_") + f,
                            std::string("Invalid value type at `.") + f +
                                "`: expected a string, but found " + found_value(body[f]));
            }
            (std::string(f) == "name" ? k.name : k.description) = body[f].get<std::string>();
        }
    }
    return k;
}

Response create_key(State& state, Request& r) {
    const auto body = json_body(r);
    Key k = key_from_body(body);
    std::lock_guard lock(state.mutex);
    if (body.contains("uid") && !body["uid"].is_null()) {
        if (!body["uid"].is_string() || body["uid"].get<std::string>().size() != 36) {
            throw error(400, "invalid_api_key_uid",
                        "Invalid value at `.uid`: invalid length: expected length 32 for "
                        "simple format, found " +
                            std::to_string(body["uid"].dump().size()));
        }
        k.uid = body["uid"].get<std::string>();
        std::transform(k.uid.begin(), k.uid.end(), k.uid.begin(), ::tolower);
        for (const auto& existing : state.keys) {
            if (existing.uid == k.uid) {
                throw error(409, "api_key_already_exists",
                            "`uid` field value `" + k.uid + "` is already an existing API key.");
            }
        }
    } else {
        k.uid = new_uuid();
    }
    k.key = miroir::http::derive_key(state.master_key, k.uid);
    k.created_at = k.updated_at = now();
    state.keys.push_back(k);
    return respond(201, k.to_json());
}

Response update_key(State& state, Request& r) {
    const auto body = json_body(r);
    std::lock_guard lock(state.mutex);
    Key& k = find_key(state, std::string(r.param("key")));
    for (auto it = body.begin(); it != body.end(); ++it) {
        const auto& f = it.key();
        if (f == "name" || f == "description") {
            if (!it.value().is_null() && !it.value().is_string()) {
                throw error(400, "invalid_api_key_" + f,
                            "Invalid value type at `." + f + "`: expected a string, but found " +
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
            throw bad_request("Unknown field `" + f + "`: expected one of `description`, `name`");
        }
    }
    k.updated_at = now();
    return respond(200, k.to_json());
}

}  // namespace

void Node::add_key_routes() {
    add(
        Method::get, "/keys", "keys.get", [this](Request& r) { return list_keys(state_, r); },
        false);
    add(
        Method::post, "/keys", "keys.create", [this](Request& r) { return create_key(state_, r); },
        false);
    add(
        Method::get, "/keys/{key}", "keys.get",
        [this](Request& r) {
            std::lock_guard lock(state_.mutex);
            return respond(200, find_key(state_, std::string(r.param("key"))).to_json());
        },
        false);
    add(
        Method::patch, "/keys/{key}", "keys.update",
        [this](Request& r) { return update_key(state_, r); }, false);
    add(
        Method::del, "/keys/{key}", "keys.delete",
        [this](Request& r) {
            std::lock_guard lock(state_.mutex);
            Key& k = find_key(state_, std::string(r.param("key")));
            std::erase_if(state_.keys, [&](const Key& x) { return x.uid == k.uid; });
            Response res;
            res.status = 204;
            return res;
        },
        false);
}

}  // namespace devnode
