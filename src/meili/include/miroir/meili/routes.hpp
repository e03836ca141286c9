// Registration of the Meilisearch route families, one function per family.
#pragma once

#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace miroir::http {
class Router;
struct Request;
}  // namespace miroir::http

namespace miroir::fleet {
struct Context;
}  // namespace miroir::fleet

namespace miroir::meili {

using fleet::Context;

// GET /health, GET /version
void add_misc_routes(http::Router& router, Context& context);

// GET /tasks, GET /tasks/{uid}
void add_task_routes(http::Router& router, Context& context);
// GET /tasks/{uid}/documents (task_documents.cpp; registered by add_task_routes).
void add_task_document_routes(http::Router& router, Context& context);

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

// POST /indexes/{uid}/explain: a search's plan, and with ?execute=true its run, timed per node
void add_explain_routes(http::Router& router, Context& context);

// GET and PATCH /experimental-features, on every node
void add_feature_routes(http::Router& router, Context& context);

// A payload Miroir found malformed, sent as it is to a node: its own words about it (they name
// its JSON or CSV parser's finding), nothing when no node refuses it so.
boost::asio::awaitable<std::optional<http::Response>> node_words(Context& context,
                                                                 const http::Request& request);

// POST /indexes/{uid}/fields: the fields of an index, merged over its shards
void add_field_routes(http::Router& router, Context& context);

// The experimental routes: render-template, index compaction, dynamic search rules
void add_experimental_routes(http::Router& router, Context& context);

// GET and PATCH /network: Miroir's own, as a Community Edition node answers them
void add_network_routes(http::Router& router, Context& context);

// POST and DELETE /logs/stream, POST /logs/stderr: Miroir's own logs (logs.cpp).
void add_log_routes(http::Router& router, Context& context);

// /webhooks: Miroir's webhooks, called when its tasks finish
void add_webhook_routes(http::Router& router, Context& context);
// POST /export (export.cpp).
void add_export_routes(http::Router& router, Context& context);
// The chat workspaces and completions (chats.cpp).
void add_chat_routes(http::Router& router, Context& context);

// GET, PATCH and DELETE /indexes/{uid}/settings and every settings sub-route
void add_settings_routes(http::Router& router, Context& context);

// POST and GET /keys, GET, PATCH and DELETE /keys/{key}.
void add_key_routes(http::Router& router, Context& context);

// Decides a request made with an API key (PipelineOptions::check_api_key).
boost::asio::awaitable<void> check_api_key(Context& context, http::Request& request,
                                           std::string token);

}  // namespace miroir::meili
