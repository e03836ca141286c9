// The pods sharing a task store: each writes a sign of life to the store's `pods` table (the
// gate follower, workers/shared_gate.cpp) with the topology version it has loaded, so that a
// change can wait until every live pod uses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace miroir::fleet {

struct Context;

inline const std::string kPodsTable = "pods";

// One pod's record: "<gate epoch acknowledged>:<unix ms of its sign>:<topology version>".
struct PodSign {
    std::uint64_t epoch = 0;
    std::int64_t at = 0;
    std::uint64_t version = 0;
};
std::optional<PodSign> parse_pod_sign(const std::string& text);
std::string pod_sign_text(const PodSign& sign);

// Waits until every pod that gave a sign of life within a lease has loaded topology `version`
// or a newer one, at most `timeout`; the pods still behind then (none: every pod is there).
boost::asio::awaitable<std::vector<std::string>> wait_pods_loaded(
    Context& ctx, std::uint64_t version, std::chrono::milliseconds timeout);

}  // namespace miroir::fleet
