// The chat workspaces of Meilisearch 1.50 (behind the `chatCompletions` feature): each
// workspace's settings (the LLM source and its connection, the prompts), changed field by
// field, listed by uid, with the API key shown masked
// (crates/meilisearch/src/routes/chats/, crates/meilisearch-types/src/features.rs).
// Completions need an LLM: the development node has no such route.
#include <miroir/http/api_keys.hpp>

#include "node.hpp"
#include "util.hpp"

namespace devnode {

namespace http = miroir::http;
using http::Method;

namespace {

const char* const kSystemPrompt =
    "You are a highly capable research assistant with access to powerful search tools. "
    "IMPORTANT INSTRUCTIONS:1. When answering questions, you MUST make multiple tool calls (at "
    "least 2-3) to gather comprehensive information.2. Use different search queries for each "
    "tool call - vary keywords, rephrase questions, and explore different semantic angles to "
    "ensure broad coverage.3. Always explicitly announce BEFORE making each tool call by "
    "saying: \"I'll search for [specific information] now.\"4. Combine information from ALL "
    "tool calls to provide complete, nuanced answers rather than relying on a single source.5. "
    "For complex topics, break down your research into multiple targeted queries rather than "
    "using a single generic search. Meilisearch doesn't use the colon (:) syntax to filter but "
    "rather the equal (=) one. Separate filters from query and keep the q parameter empty if "
    "needed. Same for the filter parameter: keep it empty if need be. If you need to find "
    "documents that CONTAINS keywords simply put the keywords in the q parameter do no use a "
    "filter for this purpose. Whenever you get an error, read the error message and fix your "
    "error. ";
const char* const kSearchDescription =
    "Query: 'best story about Rust before 2018' with year: 2018, 2020, 2021\nlabel: analysis, "
    "golang, javascript\ntype: story, link\nvote: 300, 298, 278\n: {\"q\": \"\", \"filter\": "
    "\"category = Rust AND type = story AND year < 2018 AND vote > 100\"}\nQuery: 'A black or "
    "green car that can go fast with red brakes' with maxspeed_kmh: 200, 150, 130\ncolor: "
    "black, grey, red, green\nbrand: Toyota, Renault, Jeep, Ferrari\n: {\"q\": \"red brakes\", "
    "\"filter\": \"maxspeed_kmh > 150 AND color IN ['black', green]\"}\nQuery: 'Superman movie "
    "released in 2018 or after' with year: 2018, 2020, 2021\ngenres: Drama, Comedy, Adventure, "
    "Fiction\n: {\"q\":\"Superman\",\"filter\":\"genres IN [Adventure, Fiction] AND year >= "
    "2018\"}";
const char* const kQParam =
    "The search query string used to find relevant documents in the index. This should contain "
    "keywords or phrases that best represent what the user is looking for. More specific "
    "queries will yield more precise results.";
const char* const kFilterParam =
    "The search filter string used to find relevant documents in the index. It supports "
    "parentheses, `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, `TO`, `EXISTS`, `NOT "
    "EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, `IS NOT EMPTY`, `_geoRadius`, or "
    "`_geoBoundingBox`. Here is an example: \"price > 100 AND category = 'electronics'\". The "
    "following is a list of fields that can be filtered on: ";
const char* const kIndexUidParam =
    "The name of the index to search within. An index is a collection of documents organized "
    "for search. Selecting the right index ensures the most relevant results for the user "
    "query.";

json default_prompts() {
    return json{{"system", kSystemPrompt},
                {"searchDescription", kSearchDescription},
                {"searchQParam", kQParam},
                {"searchFilterParam", kFilterParam},
                {"searchIndexUidParam", kIndexUidParam}};
}

json default_workspace() {
    json s;
    s["source"] = "openAi";
    for (const char* k :
         {"orgId", "projectId", "apiVersion", "deploymentId", "baseUrl", "apiKey"}) {
        s[k] = nullptr;
    }
    s["prompts"] = default_prompts();
    return s;
}

// The API key as Meilisearch shows it: its first characters, then X's.
json masked(json settings) {
    auto& key = settings["apiKey"];
    if (key.is_string()) key = miroir::http::hide_secret(key.get<std::string>());
    return settings;
}

void check_feature(const State& state, const std::string& action) {
    if (state.features.value("chatCompletions", false) == true) return;
    throw error(400, "feature_not_enabled",
                action +
                    " requires enabling the `chat completions` experimental feature. See "
                    "https://github.com/orgs/meilisearch/discussions/835");
}

// A PATCH's fields over the workspace's settings: a string sets, null resets.
void apply(json& settings, const json& body) {
    if (!body.is_object()) throw bad_request("Json deserialize error: expected an object");
    for (const auto& [key, value] : body.items()) {
        if (key == "prompts") {
            if (value.is_null()) settings["prompts"] = default_prompts();
            if (!value.is_object()) continue;
            for (const auto& [name, text] : value.items()) {
                settings["prompts"][name] = text.is_null() ? default_prompts()[name] : text;
            }
        } else if (settings.contains(key)) {
            settings[key] = value.is_null() && key == "source" ? json("openAi") : value;
        } else {
            throw bad_request("Unknown field `" + key + "`");
        }
    }
    const auto source = settings["source"];
    if (source == "azureOpenAi" &&
        (settings["baseUrl"].is_null() || settings["deploymentId"].is_null() ||
         settings["apiVersion"].is_null())) {
        throw bad_request(
            "azureOpenAi requires setting a valid `baseUrl`, `deploymentId`, and `apiVersion`");
    }
    if (source == "vLlm" && settings["baseUrl"].is_null()) {
        throw bad_request("vLlm requires setting a valid `baseUrl`");
    }
}

ApiError not_found(const std::string& message) { return error(404, "chat_not_found", message); }

// A workspace's settings, for the settings routes (the feature checked first).
json& settings_of(State& state, const std::string& uid) {
    check_feature(state, "using the /chats/settings route");
    const auto it = state.chats.find(uid);
    if (it == state.chats.end()) throw not_found("Chat `" + uid + "` not found");
    return it->second;
}

}  // namespace

void Node::add_chat_routes() {
    add(
        Method::get, "/chats", "chats.get",
        [this](Request& r) {
            const Query q(r.query, {"offset", "limit"});
            const auto offset = q.get_uint("offset", "invalid_index_offset").value_or(0);
            const auto limit = q.get_uint("limit", "invalid_index_limit").value_or(20);
            std::lock_guard lock(state_.mutex);
            check_feature(state_, "listing the chats");
            json results = json::array();
            std::size_t i = 0;
            for (const auto& [uid, settings] : state_.chats) {
                if (i++ >= offset && results.size() < limit) results.push_back({{"uid", uid}});
            }
            return respond(200, json{{"results", results},
                                     {"offset", offset},
                                     {"limit", limit},
                                     {"total", state_.chats.size()}});
        },
        false);
    add(
        Method::get, "/chats/{workspace}", "chats.get",
        [this](Request& r) {
            const std::string uid(r.param("workspace"));
            std::lock_guard lock(state_.mutex);
            check_feature(state_, "displaying a chat");
            if (!state_.chats.count(uid)) throw not_found("chat " + uid + " not found");
            return respond(200, json{{"uid", uid}});
        },
        false);
    add(
        Method::del, "/chats/{workspace}", "chats.delete",
        [this](Request& r) {
            const std::string uid(r.param("workspace"));
            std::lock_guard lock(state_.mutex);
            check_feature(state_, "deleting a chat");
            if (!state_.chats.erase(uid)) throw not_found("chat " + uid + " not found");
            Response out;
            out.status = 204;
            return out;
        },
        false);
    add(
        Method::get, "/chats/{workspace}/settings", "chatsSettings.get",
        [this](Request& r) {
            std::lock_guard lock(state_.mutex);
            return respond(200, masked(settings_of(state_, std::string(r.param("workspace")))));
        },
        false);
    add(
        Method::patch, "/chats/{workspace}/settings", "chatsSettings.update",
        [this](Request& r) {
            const std::string uid(r.param("workspace"));
            const auto body = json_body(r);
            std::lock_guard lock(state_.mutex);
            check_feature(state_, "using the /chats/settings route");
            const auto it = state_.chats.find(uid);
            json settings = it == state_.chats.end() ? default_workspace() : it->second;
            apply(settings, body);
            state_.chats[uid] = settings;
            return respond(200, masked(settings));
        },
        false);
    add(
        Method::del, "/chats/{workspace}/settings", "chatsSettings.update",
        [this](Request& r) {
            std::lock_guard lock(state_.mutex);
            auto& settings = settings_of(state_, std::string(r.param("workspace")));
            settings = default_workspace();
            return respond(200, settings);
        },
        false);
}

}  // namespace devnode
