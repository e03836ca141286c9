// Registration of a route family's handlers that take only the context and the request.
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/http/router.hpp>

namespace miroir::meili {

using RouteHandler = boost::asio::awaitable<http::Response> (*)(fleet::Context&, http::Request&);

// `handler` for a Meilisearch route an API key holding `action` may call.
void add_route(http::Router& router, fleet::Context& ctx, http::Method method, const char* pattern,
               const char* action, RouteHandler handler);

// Whether a task or batch uid from a path is a number; check_task_uid throws Meilisearch's
// error for one that is not.
bool is_task_uid(const std::string& text);
void check_task_uid(const std::string& text, bool batch);

}  // namespace miroir::meili
