// The chat routes (behind the nodes' `chatCompletions` feature). A chat workspace's settings
// are instance-wide, kept by every node: reads come from the first node that answers, changes
// go to every node (a change one node refuses, every node refuses), answered as the first node
// answered and naming the nodes that did not (X-Miroir-Degraded).
//
// A chat completion runs on one node, whose search tool reads that node's own documents: it
// is sent to a node that holds every shard (a replica group of one node, or with RF equal to
// its size); a fleet without one gets a clear refusal, since any single node would answer from
// part of the index. The answer (an event stream) is relayed whole once the node has finished,
// within five minutes.
#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>

#include "route.hpp"

namespace miroir::meili {

using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using http::Method;

// The client's path and query as received (a workspace uid stays encoded as it came).
std::string node_target(const http::Request& r) { return r.target; }

// A node's answer as the client's, with its content type (none for an empty body).
http::Response relayed(const upstream::UpstreamResponse& answer) {
    http::Response out;
    out.status = answer.status;
    out.body = answer.body;
    if (const auto type = answer.headers.get("Content-Type")) {
        out.headers.set("Content-Type", std::string(*type));
    } else if (!out.body.empty()) {
        out.headers.set("Content-Type", "application/json");
    }
    return out;
}

// An LLM's answer, with its tool calls, takes far longer than a search.
constexpr std::chrono::minutes kCompletionTimeout{5};

http::ApiError none_answered() {
    return http::ApiError(503, "miroir_no_quorum", http::ErrorType::system, "No node answered.");
}

asio::awaitable<http::Response> read_chats(fleet::Context& ctx, http::Request& r) {
    const auto answer = co_await first_answer(ctx, node_request(Method::get, node_target(r)));
    if (!answer) throw none_answered();
    co_return relayed(*answer);
}

asio::awaitable<http::Response> change_chats(fleet::Context& ctx, http::Request& r) {
    const auto fleet = ctx.fleet();
    auto request = node_request(r.method, node_target(r), r.body);
    const auto outcomes = co_await fan_out(ctx, broadcast(*fleet, request));
    if (const auto* refused = refusal_in(outcomes)) co_return relayed(*refused);
    for (const auto& o : outcomes) {
        if (!o.result || o.result->status >= 300) continue;
        auto response = relayed(*o.result);
        const auto missed = nodes_without(*fleet, outcomes, o.result->status);
        if (!missed.empty()) response.headers.set("X-Miroir-Degraded", missed);
        co_return response;
    }
    throw none_answered();
}

asio::awaitable<http::Response> completion(fleet::Context& ctx, http::Request& r) {
    const auto fleet = ctx.fleet();
    const auto plan = covering_set(ctx, *fleet, 0);
    if (plan.size() != 1 || plan.front().restricted) {
        throw http::ApiError(
            501, "miroir_chat_needs_whole_node", http::ErrorType::invalid_request,
            "A chat completion searches the documents of the node that runs it, and no node of "
            "this fleet holds every shard. Add a replica group whose nodes each hold every "
            "shard (a replication factor equal to its number of nodes) to use chat "
            "completions through Miroir.");
    }
    // no other node may stand in for it: the answer would come from part of the index
    const auto answer = co_await ctx.nodes[plan.front().node]->send(
        node_request(Method::post, node_target(r), r.body), kCompletionTimeout);
    if (!answer) {
        throw http::ApiError(503, "miroir_node_unavailable", http::ErrorType::system,
                             "The node holding every shard did not answer the chat completion.");
    }
    co_return relayed(*answer);
}

}  // namespace

void add_chat_routes(http::Router& router, fleet::Context& ctx) {
    add_route(router, ctx, Method::get, "/chats", "chats.get", read_chats);
    add_route(router, ctx, Method::get, "/chats/{workspace}", "chats.get", read_chats);
    add_route(router, ctx, Method::del, "/chats/{workspace}", "chats.delete", change_chats);
    add_route(router, ctx, Method::get, "/chats/{workspace}/settings", "chatsSettings.get",
              read_chats);
    add_route(router, ctx, Method::patch, "/chats/{workspace}/settings", "chatsSettings.update",
              change_chats);
    add_route(router, ctx, Method::del, "/chats/{workspace}/settings", "chatsSettings.update",
              change_chats);
    add_route(router, ctx, Method::post, "/chats/{workspace}/chat/completions", "chatCompletions",
              completion);
}

}  // namespace miroir::meili
