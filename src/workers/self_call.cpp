// Requests of the public API served in process, for jobs that compose it.
#include "self_call.hpp"

#include <miroir/fleet/context.hpp>
#include <miroir/scatter/task_state.hpp>
#include <miroir/tasks/store.hpp>

namespace miroir::workers {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

asio::awaitable<http::Response> self_call(fleet::Context& ctx, http::Method method,
                                          const std::string& target, const json& body,
                                          const char* from) {
    const std::string type = "application/json";
    std::string text;
    if (!body.is_null()) text = body.dump();
    co_return co_await self_send(ctx, method, target, std::move(text), type, from);
}

asio::awaitable<http::Response> self_send(fleet::Context& ctx, http::Method method,
                                          const std::string& target, std::string body,
                                          const std::string& content_type, const char* from) {
    if (!ctx.loopback) throw std::runtime_error("no in-process client");
    http::Request r;
    r.method = method;
    r.method_text = std::string(http::to_string(method));
    r.target = target;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.remote_address = from;
    if (!body.empty()) {
        r.headers.set("Content-Type", content_type);
        r.body = std::move(body);
    }
    co_return co_await ctx.loopback(std::move(r));
}

http::ApiError failure(const std::string& what, unsigned status, const json& answer) {
    const auto message = answer.is_object() ? answer.value("message", std::string()) : "";
    const auto code = answer.is_object() ? answer.value("code", std::string("internal")) : "";
    const auto named = answer.is_object() ? answer.value("type", std::string()) : "";
    // the answer's own type when it names one (a node's error in a failed task)
    auto type = status >= 500 ? http::ErrorType::system : http::ErrorType::invalid_request;
    for (const auto t : {http::ErrorType::invalid_request, http::ErrorType::auth,
                         http::ErrorType::internal, http::ErrorType::system}) {
        if (named == http::to_string(t)) type = t;
    }
    return http::ApiError(status >= 400 ? status : 500, code.empty() ? "internal" : code, type,
                          what + ": " + message);
}

std::uint64_t accepted_task(const std::string& what, const http::Response& answer) {
    const auto accepted = json::parse(answer.body, nullptr, false);
    if (answer.status != 202 || !accepted.is_object() ||
        !accepted.value("taskUid", json()).is_number_unsigned()) {
        throw failure(what, answer.status, accepted);
    }
    return accepted["taskUid"].get<std::uint64_t>();
}

asio::awaitable<void> task_succeeded(fleet::Context& ctx, const std::string& what,
                                     std::uint64_t uid, std::chrono::milliseconds limit,
                                     const char* done_code) {
    const auto task = co_await scatter::wait_finished(ctx, uid, limit);
    if (!task) throw std::runtime_error("task " + std::to_string(uid) + " did not finish");
    if (task->status == "succeeded") co_return;
    const auto error = json::parse(task->error, nullptr, false);
    if (*done_code && error.is_object() && error.value("code", "") == done_code) co_return;
    throw failure(what, 500, error);
}

}  // namespace miroir::workers
