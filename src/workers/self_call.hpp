// Jobs that compose the public API (rolling indexes, dump import): a request served in process
// (Context::loopback), and a request answered with a task, run to its end.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/http/api_error.hpp>
#include <miroir/http/message.hpp>

namespace miroir::fleet {
struct Context;
}

namespace miroir::workers {

// A request of the public API, served in process with the master (or admin) key; `body` is
// sent as JSON unless null; `from` names the job in the access log.
boost::asio::awaitable<http::Response> self_call(fleet::Context& ctx, http::Method method,
                                                 const std::string& target,
                                                 const nlohmann::ordered_json& body,
                                                 const char* from);
// The same with a body of another type (empty: none).
boost::asio::awaitable<http::Response> self_send(fleet::Context& ctx, http::Method method,
                                                 const std::string& target, std::string body,
                                                 const std::string& content_type, const char* from);

// The error an answer carries, as the client of the job gets it: `what` failed because...
http::ApiError failure(const std::string& what, unsigned status,
                       const nlohmann::ordered_json& answer);

// The task uid of an answer that accepted a write (202 with a taskUid); throws failure().
std::uint64_t accepted_task(const std::string& what, const http::Response& answer);

// Waits up to `limit` for Miroir task `uid`; returns when it succeeded, or failed with
// `done_code` (the step was done before); throws failure() otherwise.
boost::asio::awaitable<void> task_succeeded(fleet::Context& ctx, const std::string& what,
                                            std::uint64_t uid, std::chrono::milliseconds limit,
                                            const char* done_code = "");

}  // namespace miroir::workers
