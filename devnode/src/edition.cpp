// POST /indexes/{uid}/documents/edit on the development node.
#include "filter.hpp"
#include "node.hpp"

namespace devnode {

// POST /indexes/{uid}/documents/edit: checked as Meilisearch checks it (the experimental
// feature, the body); the task fails, as this node runs no edition function.
Response edit_documents(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const Query q(r.query, {"customMetadata"});
    const auto body = json_body(r);
    if (!body.is_object()) {
        throw bad_request("Invalid value type: expected an object, but found " + found_value(body));
    }
    for (auto it = body.begin(); it != body.end(); ++it) {
        const auto& key = it.key();
        if (key != "filter" && key != "context" && key != "function") {
            throw bad_request("Unknown field `" + key +
                              "`: expected one of `filter`, `context`, `function`");
        }
    }
    if (!body.contains("function")) {
        throw error(400, "missing_document_edition_function", "Missing field `function`");
    }
    if (!body["function"].is_string()) {
        throw error(400, "invalid_document_edition_function_filter",
                    "Invalid value type at `.function`: expected a string, but found " +
                        found_value(body["function"]));
    }
    {
        std::lock_guard lock(state.mutex);
        if (state.features.value("editDocumentsByFunction", false) != true) {
            throw error(400, "feature_not_enabled",
                        "Using the documents edit route requires enabling the `edit documents by "
                        "function` experimental feature. See "
                        "https://github.com/orgs/meilisearch/discussions/762");
        }
    }
    const auto filter = body.value("filter", json());
    if (!filter.is_null() && !parse_filter(filter, "invalid_document_filter")) {
        throw error(400, "invalid_document_filter", "Sending an empty filter is forbidden.");
    }
    const auto context = body.value("context", json());
    if (!context.is_null() && !context.is_object()) {
        throw error(400, "invalid_document_edition_context", "The context must be an object");
    }
    Operation op;
    op.custom_metadata = q.get("customMetadata");
    json details;
    details["editedDocuments"] = nullptr;
    details["deletedDocuments"] = nullptr;
    details["originalFilter"] = filter.is_null() ? json() : json(filter.dump());
    details["context"] = context;
    details["function"] = body["function"];
    std::lock_guard lock(state.mutex);
    return respond(202, state.enqueue("documentEdition", uid, details, std::move(op)).summary());
}

}  // namespace devnode
