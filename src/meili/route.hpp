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

// Throws Meilisearch's error for a task (or `batch`) uid that is not a number.
void check_task_uid(const std::string& text, bool batch);

}  // namespace miroir::meili
