// Registration of the Meilisearch route families, one function per family.
#pragma once

namespace miroir::http {
class Router;
}

namespace miroir::api {

struct Context;

// GET /health, GET /version
void add_misc_routes(http::Router& router, Context& context);

}  // namespace miroir::api
