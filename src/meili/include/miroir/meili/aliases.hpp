// Aliases in the Meilisearch API (docs/operations.md, "Aliases").
#pragma once

#include <miroir/http/message.hpp>

namespace miroir::fleet {
struct Context;
}

namespace miroir::meili {

// Rewrites a client request naming an alias to the alias's index, from one snapshot of the
// topology (PipelineOptions::resolve): the `{uid}` of /indexes/{uid}/... routes and the
// `indexUid` of multi-search queries, the request's key and tenant token covering the index
// as they cover the alias. Throws the client's error for what an alias cannot do: an alias of
// several indexes is searched only, an index is not created under an alias's name, and an
// index is updated or deleted by its own uid. A request naming the shadow of an index being
// resharded finds no index (404 `index_not_found`).
void resolve_aliases(fleet::Context& ctx, http::Request& request);

}  // namespace miroir::meili
