// GET /tasks/{uid}/documents (behind the nodes' `getTaskDocumentsRoute` feature): the documents
// a document addition received, while it is enqueued or processing, as one node gives them
// (compact JSON objects one after the other). Each node that got part of the write gives its
// part from its own task; the parts are joined in the client's order (the documents' places),
// each document once whatever the replication, without Miroir's fields. Once a node has
// processed its part it no longer has it, and the answer is a node's: the task has no
// documents.
#include <algorithm>
#include <map>
#include <sstream>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/merge/search.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/task_state.hpp>
#include <miroir/upstream/gather.hpp>

#include "route.hpp"

namespace miroir::meili {

using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// A node task uid no node has: asking for its documents tells whether the feature is on.
constexpr const char* kNoSuchTask = "4294967295";

asio::awaitable<std::vector<upstream::UpstreamResult>> ask(
    fleet::Context& ctx, const std::vector<std::pair<std::size_t, std::string>>& parts) {
    std::vector<asio::awaitable<upstream::UpstreamResult>> sends;
    for (const auto& [slot, node_uid] : parts) {
        sends.push_back(
            ctx.nodes[slot]->send(node_request(Method::get, "/tasks/" + node_uid + "/documents"),
                                  std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms)));
    }
    co_return co_await upstream::gather(std::move(sends));
}

// A node's refusal, unless it only says that its task (or the probe) has no documents or is
// not found; nullopt when every node answered 200 or said so.
std::optional<http::Response> refusal(const std::vector<upstream::UpstreamResult>& results,
                                      bool& no_documents) {
    for (const auto& result : results) {
        if (!result) {
            throw http::ApiError(503, "miroir_node_unavailable", http::ErrorType::system,
                                 "A node holding part of the task's documents did not answer.");
        }
        if (result->status == 200) continue;
        const auto body = json::parse(result->body, nullptr, false);
        const auto code = body.is_object() ? body.value("code", "") : "";
        if (code == "task_file_not_found" || code == "task_not_found") {
            no_documents = true;
            continue;
        }
        return relay_error(result->status, result->body);
    }
    return std::nullopt;
}

// The documents of the nodes' answers: each one once, in the order of their places.
std::string joined(const std::vector<upstream::UpstreamResult>& results) {
    std::map<std::pair<routing::Ord, std::size_t>, json> by_place;
    std::size_t unplaced = 0;
    for (const auto& result : results) {
        std::istringstream in(result->body);
        while ((in >> std::ws) && in.peek() != std::char_traits<char>::eof()) {
            json doc;
            in >> doc;
            const auto it = doc.find(routing::kOrdField);
            const auto place = it != doc.end() && it->is_string()
                                   ? routing::ord_of_value(it->get<std::string>())
                                   : std::nullopt;
            merge::strip_reserved(doc);
            by_place.emplace(std::pair(place.value_or(routing::Ord{}), place ? 0 : ++unplaced),
                             std::move(doc));
        }
    }
    std::string out;
    for (const auto& [place, doc] : by_place) out += doc.dump();
    return out;
}

asio::awaitable<http::Response> task_documents(fleet::Context& ctx, http::Request& r) {
    const std::string text(r.param("uid"));
    const bool numeric = is_task_uid(text);
    std::optional<tasks::Task> task;
    if (numeric) task = co_await ctx.store.get(std::stoull(text));
    if (task && r.key_indexes && !r.index_allowed(task->index_uid)) task.reset();
    if (task && !task->finished()) {
        std::vector<tasks::Task> one{std::move(*task)};
        co_await refresh(ctx, one);
        task = std::move(one.front());
    }
    const auto fleet = ctx.fleet();
    std::vector<std::pair<std::size_t, std::string>> parts;
    if (task && task->type == "documentAdditionOrUpdate" && !task->finished()) {
        for (const auto& [slot, node_uid] : node_task_uids(*fleet, {*task}, false)) {
            parts.emplace_back(slot, node_uid);
        }
    }
    // without parts to ask for, a probe tells whether the nodes have the feature on
    if (parts.empty()) parts.emplace_back(fleet->members().front(), kNoSuchTask);
    const auto results = co_await ask(ctx, parts);
    bool no_documents = false;
    if (auto refused = refusal(results, no_documents)) co_return std::move(*refused);
    if (!numeric) check_task_uid(text, false);  // the feature is on: the uid is refused
    if (!task) throw http::error(404, "task_not_found", "Task `" + text + "` not found.");
    if (no_documents || parts.front().second == kNoSuchTask) {
        throw http::error(404, "task_file_not_found",
                          "Task `" + text +
                              "` does not contain any documents. Only `documentAdditionOrUpdate` "
                              "tasks with the statuses `enqueued` or `processing` contain "
                              "documents");
    }
    http::Response response;
    response.status = 200;
    response.headers.set("Content-Type", "application/x-ndjson");
    response.body = joined(results);
    co_return response;
}

}  // namespace

void add_task_document_routes(http::Router& router, fleet::Context& ctx) {
    router.add(Method::get, "/tasks/{uid}/documents", "tasks.get",
               [&ctx](http::Request& r) { return task_documents(ctx, r); });
}

}  // namespace miroir::meili
