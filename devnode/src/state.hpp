// The development node's whole state, in memory: indexes with their documents and settings,
// the task queue, and the API keys. One mutex guards all of it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "util.hpp"

namespace devnode {

struct Index {
    std::string uid;
    std::optional<std::string> primary_key;
    Time created_at;
    Time updated_at;
    // Documents by internal id (slot); freed slots are reused, as Meilisearch reuses docids.
    std::vector<std::optional<json>> slots;
    std::vector<std::uint32_t> free_slots;
    std::unordered_map<std::string, std::uint32_t> by_id;
    json settings;  // every setting, in GET /settings order
    // Search's derived structures (tokens, inverted index), rebuilt by the next search after
    // any change; owned by search_index.cpp. After changes of documents the stale structures are
    // kept with the slots changed since, so that the rebuild tokenizes only those.
    mutable std::shared_ptr<void> search_cache;
    mutable std::shared_ptr<void> stale_cache;
    mutable std::vector<std::uint32_t> changed_slots;

    // What /stats reports, kept up to date by put(), erase() and clear(): how many documents
    // hold each field, and the documents' size as JSON.
    std::map<std::string, std::uint64_t> field_counts;
    std::uint64_t raw_bytes = 0;

    std::size_t size() const { return by_id.size(); }
    void put(const std::string& id, json doc);
    bool erase(const std::string& id);
    void clear();
    // The document in `slot` changed: the search structures are stale for it.
    void documents_changed(std::uint32_t slot);
    // Settings or every document changed: the search structures are rebuilt from nothing.
    void forget_search();
    // Adds (`sign` 1) or removes (-1) a document's share of field_counts and raw_bytes.
    void account(const json& doc, int sign);
    // Live documents in slot order.
    template <typename F>
    void each(F&& f) const {
        for (const auto& slot : slots) {
            if (slot) f(*slot);
        }
    }
};

// What a task does when processed.
struct Operation {
    // documentAdditionOrUpdate
    std::vector<json> documents;
    bool replace = true;
    std::optional<std::string> primary_key;
    bool skip_creation = false;
    // documentDeletion
    enum class Deletion { none, ids, filter, all } deletion = Deletion::none;
    std::vector<std::string> ids;
    json filter;
    // settingsUpdate: the submitted patch (null = reset)
    json settings;
    // indexUpdate
    std::optional<std::string> new_uid;
    // indexSwap
    json swaps;
    // taskCancelation / taskDeletion: the uids matched when the task was registered
    std::vector<std::uint32_t> matched;
    // every document write: the client's `customMetadata`, kept on the task
    std::optional<std::string> custom_metadata;
};

struct Task {
    std::uint32_t uid = 0;
    std::optional<std::uint32_t> batch_uid;
    std::optional<std::string> index_uid;
    std::string status = "enqueued";
    std::string type;
    std::optional<std::uint32_t> canceled_by;
    json details;  // null: omitted
    json error;    // null unless failed
    Time enqueued_at;
    std::optional<Time> started_at;
    std::optional<Time> finished_at;
    Operation op;

    json to_json() const;
    json summary() const;
};

struct Key {
    std::string uid;
    std::string key;
    std::optional<std::string> name;
    std::optional<std::string> description;
    std::vector<std::string> actions;
    std::vector<std::string> indexes;
    std::optional<Time> expires_at;
    Time created_at;
    Time updated_at;

    json to_json() const;
};

struct State {
    std::mutex mutex;
    std::condition_variable work;  // signalled when a task is enqueued
    bool stopping = false;

    std::string master_key;
    std::map<std::string, Index> indexes;  // byte order of uid, as GET /indexes lists them
    std::map<std::uint32_t, Task> tasks;
    std::uint32_t next_task_uid = 0;
    std::uint32_t next_batch_uid = 0;
    std::vector<Key> keys;  // creation order
    Time last_update{};
    bool has_update = false;
    json features = json::object();        // the experimental features, by name
    std::map<std::string, json> chats;     // chat workspaces' settings, by uid
    std::map<std::string, json> webhooks;  // {"url", "headers"}, by uuid

    // Registers a task; the caller holds the mutex.
    Task& enqueue(std::string type, std::optional<std::string> index_uid, json details,
                  Operation op = {});
};

// Settings with Meilisearch's defaults, in GET /settings order.
json default_settings();

std::string new_uuid();

}  // namespace devnode
