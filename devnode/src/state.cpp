// State helpers: documents storage, task and key serialization, defaults, key derivation.
#include "state.hpp"

#include <cstdio>

#include <miroir/util/uuid.hpp>

namespace devnode {

void Index::documents_changed(std::uint32_t slot) {
    if (search_cache) {
        if (!stale_cache) {
            stale_cache = std::move(search_cache);
            changed_slots.clear();
        }
        search_cache.reset();
    }
    if (stale_cache) changed_slots.push_back(slot);
}

void Index::forget_search() {
    search_cache.reset();
    stale_cache.reset();
    changed_slots.clear();
}

void Index::account(const json& doc, int sign) {
    raw_bytes += static_cast<std::uint64_t>(sign) * doc.dump().size();
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        auto count = field_counts.find(it.key());
        if (count == field_counts.end()) count = field_counts.emplace(it.key(), 0).first;
        count->second += static_cast<std::uint64_t>(sign);
        if (count->second == 0) field_counts.erase(count);
    }
}

void Index::put(const std::string& id, json doc) {
    account(doc, 1);
    if (auto it = by_id.find(id); it != by_id.end()) {
        account(*slots[it->second], -1);
        slots[it->second] = std::move(doc);
        documents_changed(it->second);
        return;
    }
    std::uint32_t slot;
    if (!free_slots.empty()) {
        // the smallest freed docid is reused first
        auto smallest = std::min_element(free_slots.begin(), free_slots.end());
        slot = *smallest;
        free_slots.erase(smallest);
        slots[slot] = std::move(doc);
    } else {
        slot = static_cast<std::uint32_t>(slots.size());
        slots.push_back(std::move(doc));
    }
    documents_changed(slot);
    by_id.emplace(id, slot);
}

bool Index::erase(const std::string& id) {
    auto it = by_id.find(id);
    if (it == by_id.end()) return false;
    documents_changed(it->second);
    account(*slots[it->second], -1);
    slots[it->second].reset();
    free_slots.push_back(it->second);
    by_id.erase(it);
    return true;
}

void Index::clear() {
    forget_search();
    slots.clear();
    free_slots.clear();
    by_id.clear();
    field_counts.clear();
    raw_bytes = 0;
}

json Task::to_json() const {
    json j;
    j["uid"] = uid;
    j["batchUid"] = batch_uid ? json(*batch_uid) : json(nullptr);
    j["indexUid"] = index_uid ? json(*index_uid) : json(nullptr);
    j["status"] = status;
    j["type"] = type;
    j["canceledBy"] = canceled_by ? json(*canceled_by) : json(nullptr);
    if (!details.is_null()) j["details"] = details;
    j["error"] = error;
    if (started_at && finished_at) {
        j["duration"] = iso_duration(*finished_at - *started_at);
    } else {
        j["duration"] = nullptr;
    }
    j["enqueuedAt"] = rfc3339(enqueued_at);
    j["startedAt"] = started_at ? json(rfc3339(*started_at)) : json(nullptr);
    j["finishedAt"] = finished_at ? json(rfc3339(*finished_at)) : json(nullptr);
    if (op.custom_metadata) j["customMetadata"] = *op.custom_metadata;
    return j;
}

json Task::summary() const {
    json j;
    j["taskUid"] = uid;
    j["indexUid"] = index_uid ? json(*index_uid) : json(nullptr);
    j["status"] = status;
    j["type"] = type;
    j["enqueuedAt"] = rfc3339(enqueued_at);
    if (op.custom_metadata) j["customMetadata"] = *op.custom_metadata;
    return j;
}

json Key::to_json() const {
    json j;
    j["name"] = name ? json(*name) : json(nullptr);
    j["description"] = description ? json(*description) : json(nullptr);
    j["key"] = key;
    j["uid"] = uid;
    j["actions"] = actions;
    j["indexes"] = indexes;
    j["expiresAt"] = expires_at ? json(rfc3339(*expires_at)) : json(nullptr);
    j["createdAt"] = rfc3339(created_at);
    j["updatedAt"] = rfc3339(updated_at);
    return j;
}

Task& State::enqueue(std::string type, std::optional<std::string> index_uid, json details,
                     Operation op) {
    Task task;
    task.uid = next_task_uid++;
    task.type = std::move(type);
    task.index_uid = std::move(index_uid);
    task.details = std::move(details);
    task.enqueued_at = now();
    task.op = std::move(op);
    auto& stored = tasks.emplace(task.uid, std::move(task)).first->second;
    work.notify_one();
    return stored;
}

json default_settings() {
    json s;
    s["displayedAttributes"] = json::array({"*"});
    s["searchableAttributes"] = json::array({"*"});
    s["filterableAttributes"] = json::array();
    s["sortableAttributes"] = json::array();
    s["foreignKeys"] = json::array();  // shown with the `foreignKeys` feature
    s["rankingRules"] = json::array(
        {"words", "typo", "proximity", "attributeRank", "sort", "wordPosition", "exactness"});
    s["stopWords"] = json::array();
    s["nonSeparatorTokens"] = json::array();
    s["separatorTokens"] = json::array();
    s["dictionary"] = json::array();
    s["synonyms"] = json::object();
    s["distinctAttribute"] = nullptr;
    s["proximityPrecision"] = "byWord";
    json typo;
    typo["enabled"] = true;
    typo["minWordSizeForTypos"] = {{"oneTypo", 5}, {"twoTypos", 9}};
    typo["disableOnWords"] = json::array();
    typo["disableOnAttributes"] = json::array();
    typo["disableOnNumbers"] = false;
    s["typoTolerance"] = typo;
    json faceting;
    faceting["maxValuesPerFacet"] = 100;
    faceting["sortFacetValuesBy"] = {{"*", "alpha"}};
    s["faceting"] = faceting;
    s["pagination"] = {{"maxTotalHits", 1000}};
    s["embedders"] = json::object();
    s["searchCutoffMs"] = nullptr;
    s["localizedAttributes"] = nullptr;
    s["facetSearch"] = true;
    s["prefixSearch"] = "indexingTime";
    json chat;  // shown with the `chatCompletions` feature
    chat["description"] = "";
    chat["documentTemplate"] =
        "{% for field in fields %}{% if field.is_searchable and field.value != nil %}{{ "
        "field.name }}: {{ field.value }}\n{% endif %}{% endfor %}";
    chat["documentTemplateMaxBytes"] = 400;
    chat["searchParameters"] = json::object();
    s["chat"] = chat;
    return s;
}

std::string new_uuid() { return miroir::util::random_uuid(); }

}  // namespace devnode
