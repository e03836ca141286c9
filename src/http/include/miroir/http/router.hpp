// Router: maps (method, path) to a route template and its handler; tells "no such path" from
// "path exists, method does not".
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <miroir/http/message.hpp>

namespace miroir::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

// Who may call a route.
enum class Access {
    open,    // no key needed (/health)
    client,  // Meilisearch routes: the master key (API keys come with the key store)
    admin,   // /_miroir/*: the admin key
};

struct Route {
    Method method;
    std::string pattern;  // segments, "{name}" captures one segment
    Access access;
    // Access::client: the action an API key needs to call it, as Meilisearch names it
    // ("search", "documents.add"...); empty: the master key only.
    std::string action;
    Handler handler;
    std::size_t id = 0;                 // position in registration order
    std::vector<std::string> segments;  // the pattern split at '/', once
};

class Router {
  public:
    // Registers a route; returns its id. Routes are tried in registration order.
    std::size_t add(Method method, std::string pattern, Access access, Handler handler);
    // A Meilisearch route (Access::client) that an API key holding `action` may call.
    std::size_t add(Method method, std::string pattern, std::string action, Handler handler);

    struct Match {
        const Route* route = nullptr;  // null when nothing matched
        bool path_exists = false;      // some route has this path with another method
        std::vector<std::pair<std::string, std::string>> params;
    };
    Match match(Method method, std::string_view path) const;

  private:
    std::vector<Route> routes_;
};

}  // namespace miroir::http
