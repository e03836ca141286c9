// Miroir's own request and response types: what handlers see, independent of Beast.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace miroir::http {

enum class Method { get, head, post, put, patch, del, options, other };

std::string_view to_string(Method m);
Method method_from_string(std::string_view s);

// An ordered list of header fields with case-insensitive lookup.
class Headers {
  public:
    struct Field {
        std::string name;
        std::string value;
    };

    // The first value of `name`, or nullopt.
    std::optional<std::string_view> get(std::string_view name) const;
    // Replaces every field called `name` with one field.
    void set(std::string name, std::string value);
    void add(std::string name, std::string value);
    // Removes every field called `name`.
    void erase(std::string_view name);

    const std::vector<Field>& fields() const { return fields_; }

  private:
    std::vector<Field> fields_;
};

struct Request {
    Method method = Method::get;
    std::string method_text;  // as received, for logs
    std::string target;       // path and query, as received
    std::string path;         // decoded path, trailing slashes trimmed
    std::string query;        // raw query string without '?'
    Headers headers;
    std::string body;
    std::string remote_address;
    // The body was larger than the configured limit and was not read; the limit it was read
    // under (server.max_body_bytes, or an upload's own).
    bool body_too_large = false;
    std::uint64_t body_limit = 0;
    // The body kept in this file instead of `body` (ServerOptions::spool).
    std::string body_file;

    // Filled by the pipeline.
    std::string request_id;
    std::string route;  // route template, e.g. "/indexes/{uid}/search"
    // the API key action the route needs (Router::add), e.g. "search"; empty: master key only
    std::string_view action;
    std::map<std::string, std::string, std::less<>> params;
    // The index patterns of the API key the request came with, when that key does not cover
    // every index: routes over several indexes show or accept only those.
    std::optional<std::vector<std::string>> key_indexes;
    // A tenant token's search rules: index patterns, each with the filter (JSON text, empty
    // for none) it adds to searches of the indexes it matches.
    struct TenantRule {
        std::string pattern;
        std::string filter;
    };
    std::optional<std::vector<TenantRule>> tenant_rules;
    // The tenant a tenant token's claim names (tenant affinity).
    std::optional<std::string> tenant;
    // Node slots a read must not use while others can answer it (a read-your-writes
    // session's other groups).
    std::vector<std::size_t> read_avoid;
    // The replica group a read is pinned to and why ("session", "tenant"), and the alias the
    // client named before it was rewritten to its index: what query explain reports.
    std::optional<std::pair<int, std::string>> read_group;
    std::optional<std::string> alias;

    std::string_view param(std::string_view name) const;
    // Whether the request's key (and tenant token) covers index `uid` (always, for the
    // master key).
    bool index_allowed(std::string_view uid) const;
    // The rule of the request's tenant token for `uid`: the most specific matching pattern
    // (an exact uid, else the longest prefix); null when none or no token.
    const TenantRule* tenant_rule(std::string_view uid) const;
};

struct Response {
    unsigned status = 200;
    Headers headers;
    std::string body;
    bool close_connection = false;
    // A body sent as it is produced (chunked; the connection closes after it), when set: each
    // call gives the next piece, nullopt at its end. The server stops calling when the client
    // leaves or the server shuts down, and the function is destroyed then.
    std::function<boost::asio::awaitable<std::optional<std::string>>()> stream = nullptr;

    // A response with a JSON body and the JSON content type.
    static Response json(unsigned status, std::string body);
};

}  // namespace miroir::http
