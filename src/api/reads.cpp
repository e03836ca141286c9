#include "reads.hpp"

#include <algorithm>
#include <map>

#include <miroir/api/context.hpp>
#include <miroir/api/fleet.hpp>
#include <miroir/config/config.hpp>
#include <miroir/http/params.hpp>
#include <miroir/ingest/splitter.hpp>
#include <miroir/upstream/gather.hpp>

namespace miroir::api {

using json = nlohmann::ordered_json;

std::vector<Assignment> covering_set(const Fleet& fleet, std::uint64_t turn) {
    const auto& group = fleet.groups()[turn % fleet.groups().size()];
    std::map<std::size_t, std::vector<std::uint32_t>> chosen;
    for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
        const auto owners = fleet.owners(group, s);
        if (owners.empty()) continue;
        chosen[owners[(s + turn) % owners.size()]].push_back(s);
    }
    std::vector<Assignment> out;
    for (auto& [node, shards] : chosen) {
        const auto held = group.placement.shards_of(fleet.node_id(node));
        const bool restricted = shards.size() != held.size();
        out.push_back({node, std::move(shards), restricted});
    }
    return out;
}

boost::asio::awaitable<Gathered> ask_nodes(Context& ctx, const std::vector<const Assignment*>& who,
                                           std::vector<upstream::UpstreamRequest> requests) {
    std::vector<boost::asio::awaitable<upstream::UpstreamResult>> sends;
    for (std::size_t i = 0; i < who.size(); ++i) {
        sends.push_back(ctx.nodes[who[i]->node]->send(
            std::move(requests[i]), std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms)));
    }
    auto results = co_await upstream::gather(ctx.executor, std::move(sends));
    Gathered out;
    for (std::size_t i = 0; i < results.size(); ++i) {
        auto& result = results[i];
        if (result && result->status >= 400 && result->status < 500) {
            if (!out.refusal) out.refusal = relay_error(result->status, result->body);
            out.answers.emplace_back();
            continue;
        }
        auto answer =
            result && result->status == 200 ? json::parse(result->body, nullptr, false) : json();
        if (!answer.is_object()) {
            out.missing.insert(out.missing.end(), who[i]->shards.begin(), who[i]->shards.end());
            answer = json();
        }
        out.answers.push_back(std::move(answer));
    }
    co_return out;
}

void check_unavailable(const Context& ctx, const std::string& uid,
                       const std::vector<std::uint32_t>& missing) {
    if (!missing.empty() && ctx.config.scatter.unavailable_shard_policy == "error") {
        throw http::ApiError(503, "miroir_shard_unavailable", http::ErrorType::system,
                             "Some shards of index `" + uid + "` have no reachable replica.");
    }
}

http::Response respond_partial(const json& body, std::vector<std::uint32_t> missing) {
    auto response = http::respond(200, body);
    if (missing.empty()) return response;
    std::sort(missing.begin(), missing.end());
    std::string list;
    for (auto s : missing) list += (list.empty() ? "" : ",") + std::to_string(s);
    response.headers.set("X-Miroir-Degraded", "shards=" + list);
    return response;
}

namespace {

std::string shard_clause(const std::vector<std::uint32_t>& shards) {
    std::string in = std::string(ingest::kShardField) + " IN [";
    for (std::size_t i = 0; i < shards.size(); ++i) {
        in += (i ? ", " : "") + std::to_string(shards[i]);
    }
    return in + "]";
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
        s.replace(at, from.size(), to);
    }
}

}  // namespace

json with_shards(const json& filter, const std::vector<std::uint32_t>& shards) {
    const std::string in = shard_clause(shards);
    if (filter.is_null()) return in;
    if (filter.is_array()) {
        json out = filter;
        out.push_back(in);
        return out;
    }
    return json::array({filter, in});
}

std::string with_shards_param(const std::optional<std::string>& filter,
                              const std::vector<std::uint32_t>& shards) {
    const std::string clause = shard_clause(shards);
    if (!filter) return clause;
    const json parsed = json::parse(*filter, nullptr, false);
    if (parsed.is_array()) return with_shards(parsed, shards).dump();
    const std::string text = parsed.is_string() ? parsed.get<std::string>() : *filter;
    return "(" + text + ") AND " + clause;
}

std::vector<std::pair<std::string, std::string>> split_query(std::string_view raw) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t start = 0;
    while (start < raw.size()) {
        auto end = raw.find('&', start);
        if (end == std::string_view::npos) end = raw.size();
        const auto part = raw.substr(start, end - start);
        if (!part.empty()) {
            const auto eq = part.find('=');
            out.emplace_back(http::percent_decode(part.substr(0, eq), true),
                             eq == std::string_view::npos
                                 ? std::string()
                                 : http::percent_decode(part.substr(eq + 1), true));
        }
        start = end + 1;
    }
    return out;
}

std::string join_query(const std::vector<std::pair<std::string, std::string>>& params) {
    std::string out;
    for (const auto& [k, v] : params) {
        if (!out.empty()) out += '&';
        out += http::percent_encode(k) + "=" + http::percent_encode(v);
    }
    return out;
}

void strip_reserved(json& object) {
    for (auto it = object.begin(); it != object.end();) {
        if (it.key().starts_with(ingest::kReservedPrefix)) {
            it = object.erase(it);
        } else {
            ++it;
        }
    }
}

http::Response relay_error(unsigned status, const std::string& body) {
    auto error = json::parse(body, nullptr, false);
    if (!error.is_object() || !error.contains("message") || !error["message"].is_string()) {
        return http::Response::json(status, body);
    }
    auto message = error["message"].get<std::string>();
    const std::string field = "`" + std::string(ingest::kShardField) + "`";
    if (message.find(field) == std::string::npos) return http::Response::json(status, body);
    // the node lists the filterable attributes, Miroir's own among them
    for (const char* lead : {"Available filterable attribute patterns are: ",
                             "Available filterable attributes patterns are: "}) {
        replace_all(message, std::string(lead) + field + ".",
                    "This index does not have configured filterable attributes.");
    }
    replace_all(message, field + ", ", "");
    replace_all(message, ", " + field, "");
    error["message"] = message;
    return http::respond(status, error);
}

}  // namespace miroir::api
