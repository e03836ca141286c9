// Query coalescing: identical searches in flight at the same time share one scatter.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <miroir/http/message.hpp>

namespace miroir::metrics {
class Metrics;
}
namespace miroir::fleet {
struct Context;
}

namespace miroir::scatter {

class Coalescer {
  public:
    using Work = std::function<boost::asio::awaitable<http::Response>()>;

    // The answer of `work` for `key`: the first caller runs it; a caller that comes while it
    // runs waits for that run and gets a copy of its answer (`miroir_search_coalesced_total`).
    // A waiter whose client leaves stops waiting; when the caller that runs the work leaves,
    // the waiters start over, one of them running it again.
    boost::asio::awaitable<http::Response> run(const std::string& key, const Work& work,
                                               metrics::Metrics& metrics);

  private:
    struct Flight;
    std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
};

// A search's coalescing key: its method, index, request as the nodes get it (the tenant's
// filter in it) and the nodes below its settings-version floor.
std::string search_key(const char* method, const std::string& uid, const std::string& request,
                       const std::vector<std::size_t>& avoid);

// `work`'s answer, shared with identical searches in flight when scatter.search_coalescing is
// on (one Coalescer for the process).
boost::asio::awaitable<http::Response> coalesced(fleet::Context& ctx, const std::string& key,
                                                 const Coalescer::Work& work);

}  // namespace miroir::scatter
