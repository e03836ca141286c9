// POST /dumps: the dumpCreation task writes the node's state as the version 6 dump Meilisearch
// 1.50 writes (crates/dump/src/writer.rs, crates/index-scheduler/src/scheduler/
// process_dump_creation.rs), so that `meilisearch --import-dump` or Miroir's import reads it:
//
//   <dump-dir>/<dumpUid>.dump, a gzip'd tar of
//     metadata.json  instance_uid.uuid  keys.jsonl  chat-completions-settings/<uid>.json
//     tasks/queue.jsonl  tasks/update_files/<task uid>.jsonl  batches/queue.jsonl
//     indexes/<uid>/{metadata.json, documents.jsonl, settings.json}
//     experimental-features.json  network.json  webhooks.json
//
// The state is read under the mutex the worker holds; every file is built in memory, then the
// archive is written to a temporary name and renamed.
#include <algorithm>
#include <archive.h>
#include <archive_entry.h>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <utility>
#include <vector>

#include "node.hpp"

namespace devnode {

namespace {

// One file of the archive, or a directory: the importer lists `indexes/`, so the directories
// are written even when empty.
struct Entry {
    std::string path;
    std::string content;
    bool is_directory = false;
};

Entry file(std::string path, std::string content) {
    Entry e;
    e.path = std::move(path);
    e.content = std::move(content);
    return e;
}

Entry directory(std::string path) {
    Entry e;
    e.path = std::move(path);
    e.is_directory = true;
    return e;
}

// An object of `fields` in the order given, as serde writes a struct.
json record(std::initializer_list<std::pair<const char*, json>> fields) {
    json j = json::object();
    for (const auto& [name, value] : fields) j[name] = value;
    return j;
}

// A Rust enum's variant with fields, as serde writes it: {"Variant": {...}}.
json variant(const char* name, json fields) {
    json j = json::object();
    j[name] = std::move(fields);
    return j;
}

// Compact JSON, as serde_json writes it (invalid UTF-8 replaced rather than thrown).
std::string compact(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Meilisearch's dump uid: the dump's start, UTC, to the millisecond: 20261207-145500123.
std::string dump_uid(Time t) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const auto secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d%02d%02d-%02d%02d%02d%03d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

// A key as keys.jsonl holds it (meilisearch-types' `Key`: snake_case dates, no name or
// description when unset, no `key`: the importer derives it from the uid and its master key).
json key_dump(const Key& k) {
    json j = json::object();
    if (k.description) j["description"] = *k.description;
    if (k.name) j["name"] = *k.name;
    j["uid"] = k.uid;
    j["actions"] = k.actions;
    j["indexes"] = k.indexes;
    j["expires_at"] = k.expires_at ? json(rfc3339(*k.expires_at)) : json(nullptr);
    j["created_at"] = rfc3339(k.created_at);
    j["updated_at"] = rfc3339(k.updated_at);
    return j;
}

// Task uids as serde writes a RoaringBitmap: its portable serialization (no run containers;
// arrays up to 4096 values, bitmaps beyond), as an array of bytes.
json roaring_bitmap(std::vector<std::uint32_t> values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    struct Container {
        std::uint16_t key;
        std::vector<std::uint16_t> low;
    };
    std::vector<Container> containers;  // the values sharing their high 16 bits
    for (const auto v : values) {
        const auto key = static_cast<std::uint16_t>(v >> 16);
        if (containers.empty() || containers.back().key != key) containers.push_back({key, {}});
        containers.back().low.push_back(static_cast<std::uint16_t>(v & 0xffff));
    }
    json bytes = json::array();
    const auto put = [&bytes](std::uint64_t v, int size) {  // little-endian
        for (int i = 0; i < size; ++i) bytes.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    };
    put(12346, 4);  // the cookie of a serialization without run containers
    put(containers.size(), 4);
    for (const auto& c : containers) {
        put(c.key, 2);
        put(c.low.size() - 1, 2);
    }
    std::uint64_t offset = 8 + 8 * containers.size();
    for (const auto& c : containers) {
        put(offset, 4);
        offset += c.low.size() <= 4096 ? 2 * c.low.size() : 8192;
    }
    for (const auto& c : containers) {
        if (c.low.size() <= 4096) {
            for (const auto low : c.low) put(low, 2);
            continue;
        }
        std::vector<std::uint64_t> words(1024, 0);
        for (const auto low : c.low) words[low >> 6] |= std::uint64_t{1} << (low & 63);
        for (const auto word : words) put(word, 8);
    }
    return bytes;
}

// A filter kept as its JSON text (`originalFilter`) back as JSON; null when there is none.
json parsed_filter(const json& text) {
    if (!text.is_string()) return nullptr;
    auto parsed = json::parse(text.get<std::string>(), nullptr, false);
    return parsed.is_discarded() ? text : parsed;
}

// The kind of a document task as TaskDump holds it (`KindDump`: the variant in camelCase, its
// fields in snake_case). A processed task no longer holds its operation (primary key, method,
// ids): what is written then only has to be read back, as the importer runs enqueued tasks only.
json document_kind(const Task& t, const json& d) {
    const auto get = [&d](const char* key) { return d.value(key, json(nullptr)); };
    if (t.type == "documentAdditionOrUpdate") {
        return variant(
            "documentImport",
            record({{"primary_key", t.op.primary_key ? json(*t.op.primary_key) : json(nullptr)},
                    {"method", t.op.replace ? "ReplaceDocuments" : "UpdateDocuments"},
                    {"documents_count", d.value("receivedDocuments", std::uint64_t{0})},
                    {"allow_index_creation", !t.op.skip_creation}}));
    }
    if (t.type == "documentEdition") {
        return variant("documentEdition", record({{"filter", parsed_filter(get("originalFilter"))},
                                                  {"context", get("context")},
                                                  {"function", get("function")}}));
    }
    // documentDeletion: by filter, by ids, or all of them
    if (get("originalFilter").is_string()) {
        return variant("documentDeletionByFilter",
                       record({{"filter", parsed_filter(get("originalFilter"))}}));
    }
    if (d.contains("providedIds")) {
        return variant("documentDeletion", record({{"documents_ids", t.op.ids}}));
    }
    return "documentClear";
}

// A task's kind as TaskDump holds it; see document_kind. A dump task carries the keys and the
// instance uid.
json task_kind(const Task& t, const json& keys, const DumpOptions& options) {
    const json d = t.details.is_object() ? t.details : json::object();
    const auto get = [&d](const char* key) { return d.value(key, json(nullptr)); };
    const std::string& type = t.type;
    if (type.starts_with("document")) return document_kind(t, d);
    if (type == "settingsUpdate") {
        return variant(
            "settings",
            record({{"settings", d}, {"is_deletion", false}, {"allow_index_creation", true}}));
    }
    if (type == "indexCreation") {
        return variant("indexCreation", record({{"primary_key", get("primaryKey")}}));
    }
    if (type == "indexUpdate") {
        return variant("indexUpdate",
                       record({{"primary_key", get("primaryKey")}, {"uid", get("newIndexUid")}}));
    }
    if (type == "indexSwap") return variant("indexSwap", record({{"swaps", get("swaps")}}));
    if (type == "taskCancelation" || type == "taskDeletion") {
        return variant(
            type == "taskCancelation" ? "taskCancelation" : "tasksDeletion",
            record({{"query", get("originalFilter")}, {"tasks", roaring_bitmap(t.op.matched)}}));
    }
    if (type == "dumpCreation") {
        return variant("dumpCreation",
                       record({{"keys", keys}, {"instance_uid", options.instance_uid}}));
    }
    if (type == "indexCompaction") {
        return variant("indexCompaction", record({{"index_uid", t.index_uid.value_or("")}}));
    }
    return type;  // indexDeletion, snapshotCreation: variants without fields
}

// A task's details as TaskDump holds them (meilisearch-types' `Details`: the variant's name,
// its fields in snake_case); null when the task has none.
json task_details(const Task& t) {
    const json& d = t.details;
    if (!d.is_object()) return nullptr;
    const auto get = [&d](const char* key) { return d.value(key, json(nullptr)); };
    const std::string& type = t.type;
    if (type == "documentAdditionOrUpdate") {
        return variant("DocumentAdditionOrUpdate",
                       record({{"received_documents", get("receivedDocuments")},
                               {"indexed_documents", get("indexedDocuments")}}));
    }
    if (type == "documentDeletion" && get("originalFilter").is_string()) {
        return variant("DocumentDeletionByFilter",
                       record({{"original_filter", get("originalFilter")},
                               {"deleted_documents", get("deletedDocuments")}}));
    }
    if (type == "documentDeletion" && d.contains("providedIds")) {
        return variant("DocumentDeletion",
                       record({{"provided_ids", get("providedIds")},
                               {"deleted_documents", get("deletedDocuments")}}));
    }
    if (type == "documentDeletion" || type == "indexDeletion") {
        return variant("ClearAll", record({{"deleted_documents", get("deletedDocuments")}}));
    }
    if (type == "documentEdition") {
        return variant("DocumentEdition", record({{"deleted_documents", get("deletedDocuments")},
                                                  {"edited_documents", get("editedDocuments")},
                                                  {"original_filter", get("originalFilter")},
                                                  {"context", get("context")},
                                                  {"function", get("function")}}));
    }
    if (type == "settingsUpdate") return variant("SettingsUpdate", record({{"settings", d}}));
    if (type == "indexCreation" || type == "indexUpdate") {
        return variant("IndexInfo", record({{"primary_key", get("primaryKey")},
                                            {"new_index_uid", get("newIndexUid")},
                                            {"old_index_uid", get("oldIndexUid")}}));
    }
    if (type == "indexSwap") return variant("IndexSwap", record({{"swaps", get("swaps")}}));
    if (type == "taskCancelation" || type == "taskDeletion") {
        const bool cancel = type == "taskCancelation";
        return variant(cancel ? "TaskCancelation" : "TaskDeletion",
                       record({{"matched_tasks", get("matchedTasks")},
                               {cancel ? "canceled_tasks" : "deleted_tasks",
                                get(cancel ? "canceledTasks" : "deletedTasks")},
                               {"original_filter", get("originalFilter")}}));
    }
    if (type == "dumpCreation") return variant("Dump", record({{"dump_uid", get("dumpUid")}}));
    if (type == "indexCompaction") {
        return variant("IndexCompaction",
                       record({{"index_uid", t.index_uid.value_or("")},
                               {"pre_compaction_size", get("preCompactionSize")},
                               {"post_compaction_size", get("postCompactionSize")}}));
    }
    return nullptr;
}

// One line of tasks/queue.jsonl (TaskDump). The dump's own task is written succeeded, finished
// now and in no batch yet, as Meilisearch writes itself.
json task_dump(const Task& t, const Task& current, Time finished, const json& keys,
               const DumpOptions& options) {
    const bool own = t.uid == current.uid;
    json j = json::object();
    j["uid"] = t.uid;
    j["batchUid"] = t.batch_uid && !own ? json(*t.batch_uid) : json(nullptr);
    j["indexUid"] = t.index_uid ? json(*t.index_uid) : json(nullptr);
    j["status"] = own ? std::string("succeeded") : t.status;
    j["type"] = task_kind(t, keys, options);
    if (t.canceled_by) j["canceledBy"] = *t.canceled_by;
    if (auto details = task_details(t); !details.is_null()) j["details"] = std::move(details);
    if (!t.error.is_null()) j["error"] = t.error;
    j["enqueuedAt"] = rfc3339(t.enqueued_at);
    if (t.started_at) j["startedAt"] = rfc3339(*t.started_at);
    if (own) {
        j["finishedAt"] = rfc3339(finished);
    } else if (t.finished_at) {
        j["finishedAt"] = rfc3339(*t.finished_at);
    }
    if (t.op.custom_metadata) j["customMetadata"] = *t.op.custom_metadata;
    return j;
}

// tasks/queue.jsonl (every task, by uid), the documents of each enqueued addition in
// tasks/update_files/ (the importer runs it again), and batches/ (no batches kept).
void add_tasks(std::vector<Entry>& out, const State& state, const Task& current, const json& keys,
               const DumpOptions& options) {
    const Time finished = now();
    std::string queue;
    std::vector<Entry> updates;
    for (const auto& [uid, t] : state.tasks) {
        queue += compact(task_dump(t, current, finished, keys, options)) + "\n";
        if (t.status != "enqueued" || t.op.documents.empty()) continue;
        std::string documents;
        for (const auto& doc : t.op.documents) documents += compact(doc) + "\n";
        updates.push_back(
            file("tasks/update_files/" + std::to_string(uid) + ".jsonl", std::move(documents)));
    }
    out.push_back(directory("tasks/"));
    out.push_back(file("tasks/queue.jsonl", std::move(queue)));
    out.push_back(directory("tasks/update_files/"));
    for (auto& update : updates) out.push_back(std::move(update));
    out.push_back(directory("batches/"));
    out.push_back(file("batches/queue.jsonl", ""));
}

// indexes/<uid>/: metadata, documents in internal-id order, and every setting (Meilisearch's
// dump holds the experimental `foreignKeys` and `chat` too, whatever the features).
void add_indexes(std::vector<Entry>& out, const State& state) {
    out.push_back(directory("indexes/"));
    for (const auto& [uid, index] : state.indexes) {
        const std::string dir = "indexes/" + uid + "/";
        out.push_back(directory(dir));
        const auto pk = index.primary_key ? json(*index.primary_key) : json(nullptr);
        const auto metadata = record({{"uid", uid},
                                      {"primaryKey", pk},
                                      {"createdAt", rfc3339(index.created_at)},
                                      {"updatedAt", rfc3339(index.updated_at)}});
        out.push_back(file(dir + "metadata.json", compact(metadata)));
        std::string documents;
        index.each([&documents](const json& doc) { documents += compact(doc) + "\n"; });
        out.push_back(file(dir + "documents.jsonl", std::move(documents)));
        out.push_back(file(dir + "settings.json", compact(index.settings)));
    }
}

// webhooks.json: each webhook by uuid, its headers sorted by name (BTreeMaps in Meilisearch).
json webhooks_dump(const State& state) {
    json webhooks = json::object();
    for (const auto& [uuid, webhook] : state.webhooks) {
        const json headers = webhook.value("headers", json::object());
        std::map<std::string, json> sorted;
        for (const auto& [name, value] : headers.items()) sorted.emplace(name, value);
        json ordered = json::object();
        for (const auto& [name, value] : sorted) ordered[name] = value;
        webhooks[uuid] = record({{"url", webhook.value("url", json(""))}, {"headers", ordered}});
    }
    return record({{"webhooks", webhooks}});
}

// Every file of the dump, built from the state.
std::vector<Entry> dump_entries(const State& state, const Task& current, Time date,
                                const DumpOptions& options) {
    std::vector<Entry> out;
    const auto metadata =
        record({{"dumpVersion", "V6"}, {"dbVersion", kVersion}, {"dumpDate", rfc3339(date)}});
    out.push_back(file("metadata.json", compact(metadata)));
    out.push_back(file("instance_uid.uuid", options.instance_uid));
    json keys = json::array();
    std::string key_lines;
    for (const auto& k : state.keys) {
        keys.push_back(key_dump(k));
        key_lines += compact(keys.back()) + "\n";
    }
    out.push_back(file("keys.jsonl", std::move(key_lines)));
    out.push_back(directory("chat-completions-settings/"));
    for (const auto& [uid, settings] : state.chats) {
        out.push_back(file("chat-completions-settings/" + uid + ".json", compact(settings)));
    }
    add_tasks(out, state, current, keys, options);
    add_indexes(out, state);
    out.push_back(file("experimental-features.json", compact(state.features)));
    // the node has no /network: Meilisearch's default network
    const auto network = record({{"self", nullptr},
                                 {"remotes", json::object()},
                                 {"shards", json::object()},
                                 {"leader", nullptr},
                                 {"version", "00000000-0000-0000-0000-000000000000"}});
    out.push_back(file("network.json", compact(network)));
    out.push_back(file("webhooks.json", compact(webhooks_dump(state))));
    return out;
}

std::string error_text(archive* a) {
    const char* text = archive_error_string(a);
    return text ? text : "unknown error";
}

// Writes `entries` as a gzip'd tar (ustar, PAX headers where a name is too long) at `path`;
// throws std::runtime_error when it cannot.
void write_archive(const std::string& path, const std::vector<Entry>& entries, Time date) {
    const std::unique_ptr<archive, int (*)(archive*)> out(archive_write_new(), archive_write_free);
    const std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(),
                                                                         archive_entry_free);
    if (!out || !entry) throw std::runtime_error("cannot allocate the archive writer");
    const auto check = [&out](int status, const std::string& step) {
        if (status < ARCHIVE_WARN) throw std::runtime_error(step + ": " + error_text(out.get()));
    };
    check(archive_write_add_filter_gzip(out.get()), "gzip");
    check(archive_write_set_format_pax_restricted(out.get()), "tar");
    check(archive_write_open_filename(out.get(), path.c_str()), "cannot open " + path);
    const auto mtime = std::chrono::system_clock::to_time_t(date);
    for (const auto& e : entries) {
        archive_entry_clear(entry.get());
        archive_entry_set_pathname(entry.get(), e.path.c_str());
        // S_IFDIR and S_IFREG are libarchive's AE_IFDIR and AE_IFREG
        archive_entry_set_filetype(entry.get(), e.is_directory ? S_IFDIR : S_IFREG);
        archive_entry_set_perm(entry.get(), e.is_directory ? 0755 : 0644);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.content.size()));
        archive_entry_set_mtime(entry.get(), mtime, 0);
        check(archive_write_header(out.get(), entry.get()), "cannot write " + e.path);
        for (std::size_t at = 0; at < e.content.size();) {
            const auto n =
                archive_write_data(out.get(), e.content.data() + at, e.content.size() - at);
            if (n <= 0) {
                throw std::runtime_error("cannot write " + e.path + ": " + error_text(out.get()));
            }
            at += static_cast<std::size_t>(n);
        }
    }
    check(archive_write_close(out.get()), "cannot write " + path);
}

}  // namespace

void create_dump(const State& state, Task& task, const DumpOptions& options) {
    namespace fs = std::filesystem;
    const Time started = now();
    const std::string uid = dump_uid(started);
    try {
        const auto entries = dump_entries(state, task, started, options);
        fs::create_directories(options.dir);
        const fs::path path = fs::path(options.dir) / (uid + ".dump");
        fs::path temporary = path;
        temporary += ".tmp";
        try {
            write_archive(temporary.string(), entries, started);
            fs::rename(temporary, path);
        } catch (...) {
            std::error_code ignored;
            fs::remove(temporary, ignored);
            throw;
        }
    } catch (const std::exception& e) {
        throw error(500, "dump_process_failed",
                    "Failed to create the dump `" + uid + "`: " + e.what() + ".",
                    ErrorType::internal);
    }
    task.details["dumpUid"] = uid;
}

}  // namespace devnode
