#include <algorithm>
#include <map>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/tenant_token.hpp>
#include <miroir/merge/scrub.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/upstream/health.hpp>

namespace miroir::scatter {

using namespace miroir::fleet;

using json = nlohmann::ordered_json;

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

json and_filters(const json& left, const json& right) { return http::and_filters(left, right); }

json with_shards(const json& filter, const std::vector<std::uint32_t>& shards) {
    return and_filters(filter, routing::shard_filter(shards));
}

std::string with_shards_param(const std::optional<std::string>& filter,
                              const std::vector<std::uint32_t>& shards) {
    const std::string clause = routing::shard_filter(shards);
    if (!filter) return clause;
    const json parsed = json::parse(*filter, nullptr, false);
    if (parsed.is_array()) return with_shards(parsed, shards).dump();
    const std::string text = parsed.is_string() ? parsed.get<std::string>() : *filter;
    return "(" + text + ") AND " + clause;
}

http::Response relay_error(unsigned status, const std::string& body) {
    auto error = json::parse(body, nullptr, false);
    if (!error.is_object() || !error.contains("message") || !error["message"].is_string() ||
        error["message"].get_ref<const std::string&>().find(routing::kReservedPrefix) ==
            std::string::npos) {
        return http::Response::json(status, body);
    }
    // the node lists the attributes a query may use, Miroir's own among them
    error["message"] =
        merge::scrub_error_message(error["message"].get<std::string>(), routing::kReservedPrefix);
    return http::respond(status, error);
}

boost::asio::awaitable<std::optional<upstream::UpstreamResponse>> first_answer(
    Context& ctx, upstream::UpstreamRequest request, std::optional<std::size_t> first) {
    const auto fleet = ctx.fleet();
    const auto deadline = read_deadline(ctx);
    std::vector<std::size_t> order;
    if (first) order.push_back(*first);
    for (auto slot : fleet->members()) {
        if (slot != first) order.push_back(slot);
    }
    for (auto slot : order) {
        auto result = co_await ctx.nodes[slot]->send(request, time_left(ctx, deadline));
        if (result && result->status < 500) co_return std::move(*result);
    }
    co_return std::nullopt;
}

}  // namespace miroir::scatter
