// Meilisearch's filter expressions: parsing (string and array forms) and evaluation over
// documents, with Meilisearch's error codes and filterable-attribute checks.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util.hpp"

namespace devnode {

struct FilterNode;
using FilterPtr = std::shared_ptr<const FilterNode>;

struct FilterNode {
    enum class Kind {
        and_,
        or_,
        not_,
        compare,
        range,
        in,
        exists,
        is_null,
        is_empty,
        starts_with,
        contains
    } kind;
    std::vector<FilterPtr> children;  // and_, or_, not_
    std::string field;
    std::string op;                   // compare: = != > >= < <=
    std::string value;                // compare, starts_with, contains; range low
    std::string high;                 // range
    std::vector<std::string> values;  // in
    // in: each value normalized and as a number, worked out by the first document tested (a
    // parsed filter serves one request)
    mutable std::vector<std::pair<std::string, std::optional<double>>> literals;
    int start = 0, end = 0;  // 1-based char columns in the expression, for errors
    std::string text;        // the whole expression, for errors
};

// Parses a filter (string or array form). `code` is the route's error code
// (invalid_search_filter, invalid_document_filter). Empty filters give nullptr.
FilterPtr parse_filter(const json& filter, const std::string& code);

// Throws `code` when the filter names an attribute that `filterable` does not allow. With
// `index_uid` (the search routes), the error names the index and shows the expression as
// Meilisearch writes it back (`Index `x`: ... \n2:7 "color" = "x"`); else as it was given.
void check_filterable(const FilterPtr& filter, const json& filterable, const std::string& code,
                      const std::string* index_uid = nullptr);

// Meilisearch's sentence for the patterns `filterable` (the setting) opens to filtering, or to
// facet search with `facet_search`: "Available filterable attributes patterns are: `a, b`.",
// or "This index does not have configured filterable attributes." (`kind` names the use).
std::string available_patterns(const json& filterable, const std::string& kind, bool facet_search);

// Whether `filterable` (the setting) allows filtering on `field`.
bool is_filterable(const json& filterable, const std::string& field);

bool matches(const FilterPtr& filter, const json& doc);

// The values of a (dotted) field in a document, arrays flattened.
std::vector<const json*> field_values(const json& doc, const std::string& field);

// A facet value as Meilisearch compares it: trimmed, lowercased, accents kept.
std::string normalize(std::string_view s);

// A word as Meilisearch's tokenizer normalizes it for search: lowercased, Latin accents
// folded.
std::string fold_word(std::string_view s);

}  // namespace devnode
