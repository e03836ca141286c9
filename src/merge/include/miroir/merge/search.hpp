// The client's answer to a search from several nodes' answers, as one node holding every
// document would give it: the merged hits' window, the totals (distinct values counted once),
// facets and the hits without Miroir's fields. The order of the hits comes from
// merge/order.hpp (and merge/hybrid.hpp); the nodes' answers are consumed. Pure, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <miroir/merge/hybrid.hpp>

namespace miroir::merge {

// What the merge needs of the client's query and of what Miroir added to it.
struct SearchAsk {
    bool page_mode = false;
    std::uint64_t offset = 0, limit = 20, page = 1, hits_per_page = 20;
    bool want_score = false, want_details = false;
    bool keep_expiry = false;  // hits keep `_miroir_expires_at` (the client retrieves it)
    std::string q;
    std::optional<std::string> distinct;  // the distinct attribute in force
    // the nodes counted the distinct attribute's values in a facet (exact totals); when
    // `facet_added`, Miroir asked that facet and removes it, with all facets when the client
    // asked none (`client_facets` false)
    bool count_values = false, facet_added = false, client_facets = false;
    std::optional<std::string> retrieved;  // an attribute retrieved only for distinct
    nlohmann::ordered_json faceting = nlohmann::ordered_json::object();
    bool semantic_count = false;  // the answer reports semanticHitCount
};

// The first hit and position of the window: (page − 1) × hitsPerPage, or offset.
std::uint64_t window_start(const SearchAsk& ask);
// The window's length.
std::uint64_t window_length(const SearchAsk& ask);

// What the merge of a similar-documents query needs of it.
struct SimilarAsk {
    std::uint64_t offset = 0, limit = 20;
    bool want_score = false, want_details = false;
    std::string id;  // the reference document's id, as the answer shows it
};

// The answer of a similar-documents query: the nodes' hits (null answers skipped) merged by
// their similarity, cut to the window, scores and details shown as asked; totals summed.
nlohmann::ordered_json similar_answer(const SimilarAsk& ask,
                                      std::vector<nlohmann::ordered_json>& answers);

// The keys a hit's value of `field` (a dotted path) counts as for distinct: normalized strings,
// numbers, each element of an array; none when the hit has no value.
std::vector<std::string> distinct_keys(const nlohmann::ordered_json& hit, const std::string& field);

// `order` without the hits whose distinct value an earlier hit had; `dropped` counts them.
Order without_duplicates(const std::vector<const nlohmann::ordered_json*>& lists,
                         const Order& order, const std::string& field, std::uint64_t& dropped);

// The answer: `kept` (the merged order, distinct applied) cut to the window from `lists`
// (hits inside `answers`), totals from `answers` (the nodes' answers, null where a node did
// not answer; `dropped` duplicates the merge saw), facets ordered as one node would, and
// Miroir's own `request_uid`.
nlohmann::ordered_json search_answer(const SearchAsk& ask,
                                     std::vector<nlohmann::ordered_json>& answers,
                                     const std::vector<nlohmann::ordered_json*>& lists,
                                     const Order& kept, std::uint64_t dropped,
                                     const std::string& request_uid);

// The value at `path` in a document: a top-level field of that name, else a dotted path
// through nested objects; null when there is none.
const nlohmann::ordered_json* field_at(const nlohmann::ordered_json& doc, const std::string& path);

// Removes Miroir's fields from an object (a document, a hit, a hit's _formatted), but for
// `_miroir_expires_at` when `keep_expiry` (the client named it among the fields to retrieve).
void strip_reserved(nlohmann::ordered_json& object, bool keep_expiry = false);

}  // namespace miroir::merge
