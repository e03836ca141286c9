// The Meilisearch settings sub-routes: /indexes/{uid}/settings/<path>, the setting each one
// holds, and the verb that updates it (PUT for whole values, PATCH for merged objects).
#pragma once

#include <miroir/http/message.hpp>

namespace miroir::http {

struct SettingsRoute {
    const char* path;  // /settings/<path>
    const char* key;   // camelCase setting name
    Method verb;       // the update verb
};

inline constexpr SettingsRoute kSettingsRoutes[] = {
    {"displayed-attributes", "displayedAttributes", Method::put},
    {"searchable-attributes", "searchableAttributes", Method::put},
    {"filterable-attributes", "filterableAttributes", Method::put},
    {"sortable-attributes", "sortableAttributes", Method::put},
    {"ranking-rules", "rankingRules", Method::put},
    {"stop-words", "stopWords", Method::put},
    {"non-separator-tokens", "nonSeparatorTokens", Method::put},
    {"separator-tokens", "separatorTokens", Method::put},
    {"dictionary", "dictionary", Method::put},
    {"synonyms", "synonyms", Method::put},
    {"distinct-attribute", "distinctAttribute", Method::put},
    {"proximity-precision", "proximityPrecision", Method::put},
    {"typo-tolerance", "typoTolerance", Method::patch},
    {"faceting", "faceting", Method::patch},
    {"pagination", "pagination", Method::patch},
    {"embedders", "embedders", Method::patch},
    {"search-cutoff-ms", "searchCutoffMs", Method::put},
    {"localized-attributes", "localizedAttributes", Method::put},
    {"facet-search", "facetSearch", Method::put},
    {"prefix-search", "prefixSearch", Method::put},
};

}  // namespace miroir::http
