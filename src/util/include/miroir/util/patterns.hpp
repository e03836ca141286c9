// Index patterns as Meilisearch reads them in API keys, tenant tokens and task filters.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace miroir::util {

// Whether index patterns (`*`, an exact uid, or a prefix ending with `*`) cover `uid`.
bool index_allows(const std::vector<std::string>& patterns, std::string_view uid);

}  // namespace miroir::util
