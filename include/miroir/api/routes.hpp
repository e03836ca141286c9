// Registration of the Meilisearch route families, one function per family.
#pragma once

namespace miroir::http {
class Router;
}

namespace miroir::api {

struct Context;

// GET /health, GET /version
void add_misc_routes(http::Router& router, Context& context);

// GET /tasks, GET /tasks/{uid}
void add_task_routes(http::Router& router, Context& context);

// POST /indexes, DELETE /indexes/{uid}, and the documents write routes
void add_write_routes(http::Router& router, Context& context);

// GET /indexes/{uid}/documents, POST /indexes/{uid}/documents/fetch, GET one document
void add_document_read_routes(http::Router& router, Context& context);

// GET /indexes, GET and PATCH /indexes/{uid}, GET /indexes/{uid}/stats, GET /stats
void add_index_routes(http::Router& router, Context& context);

// POST /swap-indexes, POST /dumps, POST /snapshots, broadcast as one task each
void add_instance_routes(http::Router& router, Context& context);

// POST /indexes/{uid}/search, scattered over a covering set and merged
void add_search_routes(http::Router& router, Context& context);

// GET, PATCH and DELETE /indexes/{uid}/settings and every settings sub-route
void add_settings_routes(http::Router& router, Context& context);

// Probes every node's /health in the background and keeps Context::health current.
void start_health_checker(Context& context);

// Compares every node's settings with each index's committed settings in the background and
// repairs the nodes that drifted (two-phase settings).
void start_settings_checker(Context& context);

// Advances unfinished tasks in the background and prunes old ones.
void start_task_poller(Context& context);

}  // namespace miroir::api
