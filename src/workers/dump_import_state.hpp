// A dump import's status record (task store table `dump-imports`) and what the client sees of
// it at GET /_miroir/dumps/import/{uid}/status.
#pragma once

#include <exception>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/workers/dump_import.hpp>

namespace miroir::dump {
struct Manifest;
}

namespace miroir::workers::dump_import {

// A new import, enqueued: uid, file range, replace, counters at zero.
nlohmann::ordered_json new_state(const std::string& uid, const DumpUpload& upload);
// The dump's version, date, indexes and keys, once read.
void describe(nlohmann::ordered_json& state, const dump::Manifest& m);
// Succeeded (`error` null) or failed with `error`, now.
void finish(nlohmann::ordered_json& state, const nlohmann::ordered_json& error);
// Meilisearch's error object for an exception that ended an import.
nlohmann::ordered_json error_of(const std::exception& e);
// The record without what only the job needs (the file).
nlohmann::ordered_json public_view(const nlohmann::ordered_json& state);
// POST /keys' body for a key of keys.jsonl.
nlohmann::ordered_json key_body(const nlohmann::ordered_json& key);

boost::asio::awaitable<void> save_state(fleet::Context& ctx, const nlohmann::ordered_json& state);
// Every import's record, newest first.
boost::asio::awaitable<std::vector<nlohmann::ordered_json>> load_states(fleet::Context& ctx);

}  // namespace miroir::workers::dump_import
