// Dump imports' status records, and the client's view of them.
#include "dump_import_state.hpp"

#include <algorithm>

#include <miroir/dump/archive.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/util/time.hpp>

namespace miroir::workers::dump_import {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

constexpr const char* kTable = "dump-imports";

json error_object(const std::string& message, const std::string& code, const char* type) {
    json e;
    e["message"] = message;
    e["code"] = code;
    e["type"] = type;
    e["link"] = "https://docs.meilisearch.com/errors#" + code;
    return e;
}

}  // namespace

json new_state(const std::string& uid, const DumpUpload& upload) {
    json s;
    s["uid"] = uid;
    s["status"] = "enqueued";
    s["phase"] = "enqueued";
    s["replace"] = upload.replace;
    s["bytesTotal"] = upload.end - upload.begin;
    s["bytesRead"] = 0;
    s["dumpVersion"] = nullptr;
    s["dbVersion"] = nullptr;
    s["dumpDate"] = nullptr;
    s["indexesTotal"] = 0;
    s["indexesDone"] = 0;
    s["keysTotal"] = 0;
    s["keysSkipped"] = json::array();
    s["settingsSkipped"] = json::object();
    s["documentsRouted"] = 0;
    s["documentsWritten"] = 0;
    s["created"] = {{"indexes", json::array()}, {"keys", json::array()}};
    s["progress"] = json::object();
    s["error"] = nullptr;
    s["enqueuedAt"] = util::rfc3339(util::now());
    s["startedAt"] = nullptr;
    s["finishedAt"] = nullptr;
    s["file"] = upload.file;
    s["range"] = {upload.begin, upload.end};
    return s;
}

void describe(json& state, const dump::Manifest& m) {
    state["dumpVersion"] = m.dump_version;
    state["dbVersion"] = m.db_version;
    state["dumpDate"] = m.dump_date;
    state["indexesTotal"] = m.indexes.size();
    state["keysTotal"] = m.keys.size();
}

void finish(json& state, const json& error) {
    state["status"] = error.is_null() ? "succeeded" : "failed";
    if (error.is_null()) state["phase"] = "done";
    state["error"] = error;
    state["finishedAt"] = util::rfc3339(util::now());
}

json error_of(const std::exception& e) {
    if (const auto* d = dynamic_cast<const dump::Error*>(&e)) {
        return error_object(d->what(), d->code(), "invalid_request");
    }
    if (const auto* a = dynamic_cast<const http::ApiError*>(&e)) {
        return json::parse(a->body());
    }
    return error_object(e.what(), "internal", "internal");
}

json public_view(const json& state) {
    json out = state;
    out.erase("file");
    out.erase("range");
    out.erase("progress");
    return out;
}

json key_body(const json& key) {
    json body;
    body["uid"] = key.value("uid", json());
    body["name"] = key.value("name", json());
    body["description"] = key.value("description", json());
    body["actions"] = key.value("actions", json::array());
    body["indexes"] = key.value("indexes", json::array());
    body["expiresAt"] = key.value("expires_at", json());
    return body;
}

asio::awaitable<void> save_state(fleet::Context& ctx, const json& state) {
    co_await ctx.store.put_record(kTable, state["uid"].get<std::string>(), state.dump());
}

asio::awaitable<std::vector<json>> load_states(fleet::Context& ctx) {
    std::vector<json> out;
    const auto records = co_await ctx.store.records(kTable);
    for (const auto& [uid, text] : records) {
        auto state = json::parse(text, nullptr, false);
        if (state.is_object()) out.push_back(std::move(state));
    }
    std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
        return a.value("enqueuedAt", std::string()) > b.value("enqueuedAt", std::string());
    });
    co_return out;
}

}  // namespace miroir::workers::dump_import

namespace miroir::workers {

boost::asio::awaitable<std::optional<std::string>> dump_import_status(fleet::Context& ctx,
                                                                      const std::string& uid) {
    const auto states = co_await dump_import::load_states(ctx);
    for (const auto& state : states) {
        if (state.value("uid", std::string()) == uid) {
            co_return dump_import::public_view(state).dump();
        }
    }
    co_return std::nullopt;
}

boost::asio::awaitable<std::string> dump_import_list(fleet::Context& ctx) {
    nlohmann::ordered_json out;
    out["results"] = nlohmann::ordered_json::array();
    const auto states = co_await dump_import::load_states(ctx);
    for (const auto& state : states) {
        out["results"].push_back(dump_import::public_view(state));
    }
    co_return out.dump();
}

}  // namespace miroir::workers
