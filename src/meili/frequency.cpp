// `matchingStrategy: frequency` through Miroir: the words counted over the whole index (one
// search per word and per concatenation, each merged over the nodes) and, when those counts
// drop the words as `last` drops them, the search sent to the nodes as `last`
// (merge/frequency.hpp; docs/search.md).
#include <miroir/fleet/context.hpp>
#include <miroir/http/params.hpp>
#include <miroir/merge/frequency.hpp>

#include "search.hpp"

namespace miroir::meili {

namespace {
namespace asio = boost::asio;
using json = nlohmann::ordered_json;
}  // namespace

asio::awaitable<bool> frequency_drops_as_last(Context& ctx, const std::string& uid,
                                              const std::string& q, const json& scope) {
    const auto words = merge::plain_words(q);
    if (words.empty()) co_return false;
    if (!co_await scatter::reads_words_by_spaces(ctx, *ctx.fleet_of(uid), uid)) co_return false;
    const bool last_is_prefix = q.back() != ' ';
    std::vector<std::pair<std::string, json>> probes;
    for (auto& probe : merge::frequency_probes(words, last_is_prefix)) {
        json body = scope;  // the attributes searched on, the locales: what a node counts in
        body["q"] = std::move(probe);
        body["matchingStrategy"] = "all";
        body["page"] = 1;
        body["hitsPerPage"] = 0;
        probes.emplace_back(uid, std::move(body));
    }
    const auto answers = co_await run_queries(ctx, std::move(probes));
    std::vector<std::uint64_t> totals;
    for (const auto& answer : answers) {
        if (!answer || answer->status != 200) co_return false;
        const auto total = json::parse(answer->body, nullptr, false).value("totalHits", json());
        if (!total.is_number_unsigned()) co_return false;
        totals.push_back(total.get<std::uint64_t>());
    }
    co_return merge::frequency_drops_as_last(totals, words.size());
}

asio::awaitable<void> frequency_params_as_last(
    Context& ctx, const std::string& uid, const std::map<std::string, std::string>& by_name,
    std::vector<std::pair<std::string, std::string>>& params) {
    const auto strategy = by_name.find("matchingStrategy");
    const auto q = by_name.find("q");
    if (strategy == by_name.end() || strategy->second != "frequency" || q == by_name.end()) {
        co_return;
    }
    json scope = json::object();
    for (const char* key : {"attributesToSearchOn", "locales"}) {
        if (const auto it = by_name.find(key); it != by_name.end()) {
            scope[key] = http::split_csv(it->second);
        }
    }
    if (!co_await frequency_drops_as_last(ctx, uid, q->second, scope)) co_return;
    for (auto& [k, v] : params) {
        if (k == "matchingStrategy") v = "last";
    }
}

}  // namespace miroir::meili
