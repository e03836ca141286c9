// Registration of Miroir's own /_miroir routes.
#pragma once

namespace miroir::http {
class Router;
}
namespace miroir::fleet {
struct Context;
}
namespace miroir::workers {
class Supervisor;
}

namespace miroir::admin {

// GET /_miroir/ready (open, for orchestrator probes), GET /_miroir/metrics (admin key)
void add_admin_routes(http::Router& router, fleet::Context& context);

// GET /_miroir/shards (each shard's owners per group), POST /_miroir/rebalance/plan (what a
// proposed node list would move, against the fewest copies any balanced placement moves) and
// GET /_miroir/verify (every shard on its owners and nowhere else, replicas agreeing), all
// with the admin key
void add_placement_routes(http::Router& router, fleet::Context& context);

// GET /_miroir/topology, POST /_miroir/nodes, POST /_miroir/nodes/{id}/drain, DELETE
// /_miroir/nodes/{id}, POST /_miroir/groups, DELETE /_miroir/groups/{id}, POST
// /_miroir/rebalance and GET /_miroir/rebalance/status, all with the admin key
void add_topology_routes(http::Router& router, fleet::Context& context);
// GET, POST /_miroir/aliases, GET, PUT, DELETE /_miroir/aliases/{name}, with the admin key
void add_alias_routes(http::Router& router, fleet::Context& context);
// GET, POST and DELETE /_miroir/indexes/{uid}/ttl-policy (ttl.cpp)
void add_ttl_routes(http::Router& router, fleet::Context& context);
// POST, GET /_miroir/ilm, GET, DELETE /_miroir/ilm/{name}, POST /_miroir/ilm/{name}/rollover
// (ilm.cpp)
void add_ilm_routes(http::Router& router, fleet::Context& context);
// POST, GET /_miroir/dumps/import, GET /_miroir/dumps/import/{uid}/status (dumps.cpp)
void add_dump_routes(http::Router& router, fleet::Context& context);
// POST /_miroir/indexes/{uid}/reshard, its status and rollback.
void add_reshard_routes(http::Router& router, fleet::Context& context);
// GET /_miroir/workers (admin key): each background job's state, restarts and last error
void add_worker_routes(http::Router& router, const workers::Supervisor& supervisor);

// GET /metrics for the separate metrics listener (no key: bind it to a private interface)
void add_metrics_listener_routes(http::Router& router, fleet::Context& context);

}  // namespace miroir::admin
