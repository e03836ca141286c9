// Keyword search over one index, reproducing Meilisearch's bucket sort, ranking-rule details
// and ranking score (including the per-node normalization of the typo rule).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "state.hpp"

namespace devnode {

struct SearchParams {
    std::string q;
    std::uint64_t offset = 0;
    std::uint64_t limit = 20;
    std::optional<std::uint64_t> page;
    std::optional<std::uint64_t> hits_per_page;
    std::optional<std::vector<std::string>> attributes_to_retrieve;
    std::vector<std::string> attributes_to_highlight;
    std::vector<std::string> attributes_to_crop;
    std::uint64_t crop_length = 10;
    std::string crop_marker = "…";
    std::string highlight_pre = "<em>";
    std::string highlight_post = "</em>";
    bool show_matches_position = false;
    json filter;
    std::vector<std::string> sort;
    std::optional<std::string> distinct;
    std::optional<std::vector<std::string>> facets;
    std::string matching_strategy = "last";
    std::optional<std::vector<std::string>> attributes_to_search_on;
    std::optional<double> ranking_score_threshold;
    bool show_ranking_score = false;
    bool show_ranking_score_details = false;
    bool show_performance_details = false;
    bool retrieve_vectors = false;
    // vector and hybrid search (userProvided embedders)
    std::optional<std::vector<double>> vector;
    std::optional<std::string> hybrid_embedder;
    double semantic_ratio = 0.5;
    // facet search: every facet value, not only maxValuesPerFacet of them; filter errors as
    // the facet-search route writes them (the expression as given, no index name)
    bool all_facet_values = false;
    // federated multi-search: each hit carries `_federation_values` (its ranking as
    // Meilisearch's federated merge compares it) and `_federation_slot` (its document)
    bool federation = false;
    // federated multi-search: the search's candidates (document slots, ascending) in
    // `_matched_slots`; and a search restricted to `only_slots` (ascending), for the facets of
    // the documents several queries matched
    bool report_slots = false;
    std::optional<std::vector<std::uint32_t>> only_slots;
};

// The vectors a document holds for an embedder (`_vectors.<name>` in any accepted form).
std::vector<std::vector<double>> document_vectors(const json& doc, const std::string& embedder);
// (1 + cosine) / 2 of two vectors of the same length; 0 when either is null.
double similarity(const std::vector<double>& a, const std::vector<double>& b);
// `_vectors` as Meilisearch shows it with retrieveVectors.
json shown_vectors(const json& doc);

// POST body → params; throws Meilisearch's invalid_search_* errors.
SearchParams search_params_from_json(const json& body);
// GET query string → params.
SearchParams search_params_from_query(const std::string& raw_query);

// Runs the search; the caller holds the state mutex. Throws ApiError for bad parameters
// (non-filterable, non-sortable...).
json run_search(const Index& index, const SearchParams& params);

// Orders documents (stable) by `sort` expressions (`field:asc|desc`) the way search's sort
// rules do. Throws `code` for a malformed expression or a non-sortable attribute.
void sort_documents(std::vector<const json*>& docs, const std::vector<std::string>& sort,
                    const json& sortable, const std::string& code);

// Tokens of a text as Meilisearch's tokenizer would roughly give them: split on
// non-alphanumerics, lowercased, Latin accents folded.
std::vector<std::string> tokenize(std::string_view text);

}  // namespace devnode
