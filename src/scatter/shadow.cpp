// The writes of an index being resharded, to its shadow too; what is refused meanwhile.
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/scatter/shadow.hpp>

namespace miroir::scatter {

namespace asio = boost::asio;

asio::awaitable<void> write_shadow(Context& ctx, const std::string& uid,
                                   std::vector<NodeCall> calls) {
    if (calls.empty()) co_return;
    const auto fleet = ctx.fleet();
    const auto outcomes = co_await fan_out(ctx, std::move(calls));
    std::string missed;
    for (const auto& o : outcomes) {
        if (o.task_uid) continue;
        missed += (missed.empty() ? "" : ", ") + fleet->node_id(o.node);
        ctx.metrics.reshard_shadow_write_missed();
    }
    if (!missed.empty()) {
        log::warn(
            "a write did not reach the shadow of an index being resharded: its "
            "verification repairs it",
            {{"index", uid}, {"nodes", missed}});
    }
}

upstream::UpstreamRequest retarget(upstream::UpstreamRequest request, std::string_view uid,
                                   std::string_view other) {
    const auto from = index_path(std::string(uid));
    if (request.target.starts_with(from)) {
        request.target = index_path(std::string(other)) + request.target.substr(from.size());
    }
    return request;
}

void refuse_while_resharded(const Fleet& fleet, std::string_view uid, std::string_view what) {
    if (fleet.topology().is_shadow(uid)) {
        throw http::ApiError(409, "miroir_reshard_in_progress", http::ErrorType::invalid_request,
                             "Index `" + std::string(uid) +
                                 "` is the shadow of an index being resharded: " +
                                 std::string(what) + " is refused.");
    }
    if (!fleet.shadow_of(uid)) return;
    throw http::ApiError(409, "miroir_reshard_in_progress", http::ErrorType::invalid_request,
                         "Index `" + std::string(uid) +
                             "` is being resharded: " + std::string(what) +
                             " waits until the reshard is finished or rolled back "
                             "(`GET /_miroir/indexes/" +
                             std::string(uid) + "/reshard/status`).");
}

void refuse_before_switch(const Fleet& fleet, std::string_view uid, std::string_view what) {
    if (fleet.shadow_of(uid) && !fleet.written_shadow(uid))
        refuse_while_resharded(fleet, uid, what);
}

asio::awaitable<void> forget_layout(Context& ctx, const std::string& uid) {
    if (!ctx.fleet()->topology().layout_of(uid)) co_return;
    co_await fleet::change_topology(ctx, [&uid](fleet::Topology& t) { t.layouts.erase(uid); });
}

asio::awaitable<void> swap_layouts(Context& ctx, const std::string& a, const std::string& b) {
    const auto fleet = ctx.fleet();
    if (!fleet->topology().layout_of(a) && !fleet->topology().layout_of(b)) co_return;
    co_await fleet::change_topology(ctx, [&a, &b](fleet::Topology& t) {
        auto first = t.layouts.extract(a);
        auto second = t.layouts.extract(b);
        if (!first.empty()) {
            first.key() = b;
            t.layouts.insert(std::move(first));
        }
        if (!second.empty()) {
            second.key() = a;
            t.layouts.insert(std::move(second));
        }
    });
}

}  // namespace miroir::scatter
