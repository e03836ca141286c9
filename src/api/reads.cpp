#include "reads.hpp"

#include <algorithm>
#include <map>

#include <miroir/api/context.hpp>
#include <miroir/api/fleet.hpp>
#include <miroir/config/config.hpp>
#include <miroir/http/params.hpp>
#include <miroir/ingest/splitter.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/upstream/health.hpp>

namespace miroir::api {

using json = nlohmann::ordered_json;

namespace {

// A node's shards as its group places them.
std::size_t held_by(const Fleet& fleet, std::size_t node) {
    return fleet.group_of(node).placement.shards_of(fleet.node_id(node)).size();
}

std::vector<Assignment> assignments(
    const Fleet& fleet, const std::map<std::size_t, std::vector<std::uint32_t>>& chosen) {
    std::vector<Assignment> out;
    for (const auto& [node, shards] : chosen) {
        out.push_back({node, shards, shards.size() != held_by(fleet, node)});
    }
    return out;
}

// The owners of `shard` in `group` that reads may use: the healthy ones, else the suspect ones.
std::vector<std::size_t> usable_owners(const Context& ctx, const Group& group, std::uint32_t shard,
                                       const std::vector<std::size_t>& exclude = {}) {
    std::vector<std::size_t> healthy, suspect;
    for (auto node : ctx.fleet.owners(group, shard)) {
        if (std::find(exclude.begin(), exclude.end(), node) != exclude.end()) continue;
        const auto state = ctx.health.state(node);
        if (state == upstream::NodeState::healthy) healthy.push_back(node);
        if (state == upstream::NodeState::suspect) suspect.push_back(node);
    }
    return healthy.empty() ? suspect : healthy;
}

}  // namespace

std::vector<Assignment> covering_set(const Context& ctx, std::uint64_t turn) {
    const auto& fleet = ctx.fleet;
    const auto& groups = fleet.groups();
    const std::size_t start = turn % groups.size();
    // the first group, from this turn's, whose nodes that are up cover every shard
    std::size_t chosen_group = start;
    for (std::size_t k = 0; k < groups.size(); ++k) {
        const auto& group = groups[(start + k) % groups.size()];
        bool covers = true;
        for (std::uint32_t s = 0; s < fleet.shards() && covers; ++s) {
            covers = !usable_owners(ctx, group, s).empty();
        }
        if (covers) {
            chosen_group = (start + k) % groups.size();
            break;
        }
    }
    std::map<std::size_t, std::vector<std::uint32_t>> chosen;
    for (std::uint32_t s = 0; s < fleet.shards(); ++s) {
        const auto& group = groups[chosen_group];
        auto owners = usable_owners(ctx, group, s);
        for (std::size_t k = 1; owners.empty() && k < groups.size(); ++k) {
            owners = usable_owners(ctx, groups[(chosen_group + k) % groups.size()], s);
        }
        if (owners.empty()) owners = fleet.owners(group, s);  // none is up: it will fail
        if (owners.empty()) continue;
        chosen[owners[(s + turn) % owners.size()]].push_back(s);
    }
    return assignments(fleet, chosen);
}

std::vector<Assignment> replacements(const Context& ctx, const std::vector<std::uint32_t>& shards,
                                     const std::vector<std::size_t>& exclude) {
    std::map<std::size_t, std::vector<std::uint32_t>> chosen;
    for (auto s : shards) {
        for (const auto& group : ctx.fleet.groups()) {
            const auto owners = usable_owners(ctx, group, s, exclude);
            if (owners.empty()) continue;
            chosen[owners.front()].push_back(s);
            break;
        }
    }
    for (auto& [node, list] : chosen) std::sort(list.begin(), list.end());
    return assignments(ctx.fleet, chosen);
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

boost::asio::awaitable<Gathered> ask_with_retry(Context& ctx, const std::vector<Assignment>& plan,
                                                const BuildRequest& build) {
    std::vector<const Assignment*> who;
    std::vector<upstream::UpstreamRequest> requests;
    for (const auto& a : plan) {
        who.push_back(&a);
        requests.push_back(build(a));
    }
    auto gathered = co_await ask_nodes(ctx, who, std::move(requests));
    gathered.asked = plan;
    if (gathered.refusal || gathered.missing.empty()) co_return gathered;

    // the nodes that did not answer: their shards from other replicas, once
    std::vector<std::size_t> failed;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    for (std::size_t i = 0; i < plan.size(); ++i) {
        if (!gathered.answers[i].is_null()) continue;
        failed.push_back(plan[i].node);
        ctx.health.record_failure(plan[i].node, now);
        ctx.metrics.read_retry(ctx.fleet.node_id(plan[i].node));
    }
    const auto retry = replacements(ctx, gathered.missing, failed);
    if (retry.empty()) co_return gathered;
    std::vector<const Assignment*> again;
    std::vector<upstream::UpstreamRequest> more;
    std::vector<std::uint32_t> covered;
    for (const auto& a : retry) {
        again.push_back(&a);
        more.push_back(build(a));
        covered.insert(covered.end(), a.shards.begin(), a.shards.end());
    }
    auto second = co_await ask_nodes(ctx, again, std::move(more));
    std::erase_if(gathered.missing, [&covered](std::uint32_t s) {
        return std::find(covered.begin(), covered.end(), s) != covered.end();
    });
    gathered.missing.insert(gathered.missing.end(), second.missing.begin(), second.missing.end());
    if (second.refusal) gathered.refusal = std::move(second.refusal);
    for (std::size_t i = 0; i < retry.size(); ++i) {
        gathered.asked.push_back(retry[i]);
        gathered.answers.push_back(std::move(second.answers[i]));
    }
    co_return gathered;
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
