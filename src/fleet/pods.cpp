// The pods' signs of life in the task store (pods.hpp).
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/pods.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/util/time.hpp>

namespace miroir::fleet {

namespace asio = boost::asio;

std::optional<PodSign> parse_pod_sign(const std::string& text) {
    PodSign sign;
    const auto first = text.find(':');
    const auto second = first == std::string::npos ? first : text.find(':', first + 1);
    if (second == std::string::npos) return std::nullopt;
    try {
        sign.epoch = std::stoull(text.substr(0, first));
        sign.at = std::stoll(text.substr(first + 1, second - first - 1));
        sign.version = std::stoull(text.substr(second + 1));
    } catch (const std::exception&) {
        return std::nullopt;
    }
    return sign;
}

std::string pod_sign_text(const PodSign& sign) {
    return std::to_string(sign.epoch) + ":" + std::to_string(sign.at) + ":" +
           std::to_string(sign.version);
}

asio::awaitable<std::vector<std::string>> wait_pods_loaded(Context& ctx, std::uint64_t version,
                                                           std::chrono::milliseconds timeout) {
    const auto lease = static_cast<std::int64_t>(ctx.config.rebalance.lease_ms);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        std::vector<std::string> behind;
        const auto now = util::unix_ms();
        for (const auto& [pod, value] : co_await ctx.store.records(kPodsTable)) {
            const auto sign = parse_pod_sign(value);
            if (!sign || now - sign->at >= lease) continue;  // gone: not waited for
            if (sign->version < version) behind.push_back(pod);
        }
        if (behind.empty() || std::chrono::steady_clock::now() >= deadline) co_return behind;
        timer.expires_after(std::chrono::milliseconds(5));
        co_await timer.async_wait(asio::use_awaitable);
    }
}

}  // namespace miroir::fleet
