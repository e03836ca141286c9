// hint-replay: what nodes missed of acknowledged writes (scatter/hints.hpp), made on each node
// as it is on the owners that took those writes, once the node answers again. One pod replays
// at a time (the `hints` lease); a node's hints in the order they were made, each erased once
// the node enqueued its replay, the first that cannot be replayed holding back the node's
// later ones until the next round.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/hints.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/workers/workers.hpp>

#include "rebalance.hpp"

namespace miroir::workers {

using namespace miroir::fleet;
using namespace miroir::scatter;

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

namespace {

constexpr std::uint32_t kRoundMs = 1000;
constexpr std::uint32_t kLeaseMs = 10000;
constexpr std::size_t kFetchIds = 1000;  // ids read from a source per request

// A document id as hints name it: a string as it is, a number as its JSON text.
std::string canonical_id(const json& id) {
    if (id.is_string()) return id.get<std::string>();
    return id.is_null() ? std::string() : id.dump();
}

// One request to one node: its status and JSON body (status 0 when it did not answer).
asio::awaitable<std::pair<unsigned, json>> ask(Context& ctx, std::size_t slot,
                                               upstream::UpstreamRequest request) {
    const auto timeout = std::chrono::milliseconds(ctx.config.upstream.write_timeout_ms);
    auto result = co_await ctx.nodes[slot]->send(std::move(request), timeout);
    if (!result) co_return std::pair<unsigned, json>{0, json()};
    co_return std::pair<unsigned, json>{result->status, json::parse(result->body, nullptr, false)};
}

// The documents of `ids` as the sources that took the write hold them, by canonical id, once
// each source applied its node task of the write; nullopt while one is still applying it or
// cannot be read (a document it lacks would otherwise look deleted).
asio::awaitable<std::optional<std::map<std::string, json>>> documents_at_sources(
    Context& ctx, const Fleet& fleet, const Hint& hint, const std::string& pk) {
    std::map<std::string, json> found;
    bool read = false;
    for (const auto& [source, task] : hint.sources) {
        const auto slot = fleet.topology().slot(source);
        if (!slot) continue;  // no longer in the topology: its copies moved elsewhere
        read = true;
        if (!ctx.health.usable(*slot)) co_return std::nullopt;
        const auto [status, state] =
            co_await ask(ctx, *slot, node_request(Method::get, "/tasks/" + std::to_string(task)));
        const auto s = state.is_object() ? state.value("status", std::string()) : "";
        if (status != 200 || s == "enqueued" || s == "processing") co_return std::nullopt;
        for (std::size_t at = 0; at < hint.ids.size(); at += kFetchIds) {
            const auto end = std::min(hint.ids.size(), at + kFetchIds);
            json fetch;
            fetch["ids"] = std::vector<std::string>(hint.ids.begin() + at, hint.ids.begin() + end);
            fetch["limit"] = end - at;
            fetch["retrieveVectors"] = true;
            auto [code, page] =
                co_await ask(ctx, *slot,
                             node_request(Method::post, index_path(hint.index) + "/documents/fetch",
                                          fetch.dump()));
            if (code != 200 || !page.is_object()) co_return std::nullopt;
            for (auto& doc : page["results"]) {
                const auto id = canonical_id(doc.value(pk, json()));
                if (!id.empty()) found[id] = doc;
            }
        }
    }
    if (!read) co_return std::nullopt;  // no source left to copy from: held for an operator
    co_return found;
}

// Makes what `hint` names on node `slot` as the sources hold it; false when it cannot yet.
asio::awaitable<bool> replay(Context& ctx, const Fleet& fleet, std::size_t slot, const Hint& hint) {
    const auto path = index_path(hint.index);
    if (hint.all || hint.filter) {
        json body;
        body["filter"] = with_shards(hint.all ? json() : *hint.filter, hint.shards);
        const auto [status, answer] = co_await ask(
            ctx, slot, node_request(Method::post, path + "/documents/delete", body.dump()));
        co_return status == 202 || status == 404;  // 404: the index is gone
    }
    auto pk = hint.primary_key;
    if (!pk) {
        const auto record = co_await lookup_index(ctx, hint.index);
        if (!record) co_return true;  // the index is gone: nothing to replay
        pk = record->primary_key;
    }
    if (!pk) co_return false;
    const auto found = co_await documents_at_sources(ctx, fleet, hint, *pk);
    if (!found) co_return false;
    json documents = json::array(), missing = json::array();
    for (const auto& id : hint.ids) {
        const auto it = found->find(id);
        if (it != found->end()) {
            documents.push_back(it->second);
        } else {
            missing.push_back(id);
        }
    }
    if (!documents.empty()) {
        const auto [status, answer] = co_await ask(
            ctx, slot,
            node_request(Method::post, path + "/documents?primaryKey=" + http::percent_encode(*pk),
                         documents.dump()));
        if (status != 202) co_return false;
    }
    if (!missing.empty()) {
        const auto [status, answer] = co_await ask(
            ctx, slot,
            node_request(Method::post, path + "/documents/delete-batch", missing.dump()));
        if (status != 202) co_return false;
    }
    co_return true;
}

// One round: every node's hints that can be replayed now. `pending_nodes`: the nodes that had
// hints in the last round (their pending gauges go back to zero once they have none).
asio::awaitable<void> replay_round(Context& ctx, std::set<std::string>& pending_nodes) {
    if (!co_await ctx.store.lease("hints", rebalancing::pod_name(), kLeaseMs)) co_return;
    std::map<std::string, std::vector<Hint>> by_node;
    const auto records = co_await ctx.store.records(kHintTable);
    for (const auto& [key, text] : records) {
        if (auto hint = decode_hint(key, text)) by_node[hint->node].push_back(std::move(*hint));
    }
    const auto fleet = ctx.fleet();
    for (auto& [node, hints] : by_node) {
        std::sort(hints.begin(), hints.end(),
                  [](const Hint& a, const Hint& b) { return a.key < b.key; });
        const auto slot = fleet->topology().slot(node);
        std::size_t replayed = 0;
        for (const auto& hint : hints) {
            if (slot && !ctx.health.usable(*slot)) break;
            // a node no longer in the topology has nothing to catch up on
            if (slot && !co_await replay(ctx, fleet->for_index(hint.index), *slot, hint)) break;
            co_await ctx.store.erase_record(kHintTable, hint.key);
            ++replayed;
            ctx.metrics.hint_replayed(node);
            log::info("hint replayed", {{"node", node},
                                        {"index", hint.index},
                                        {"documents", static_cast<std::int64_t>(hint.ids.size())}});
        }
        std::uint64_t documents = 0;
        for (std::size_t i = replayed; i < hints.size(); ++i) documents += hints[i].ids.size();
        ctx.metrics.hints_pending(node, hints.size() - replayed, documents);
    }
    // nodes whose hints were all replayed in an earlier round
    for (const auto& id : pending_nodes) {
        if (!by_node.contains(id)) ctx.metrics.hints_pending(id, 0, 0);
    }
    pending_nodes.clear();
    for (const auto& [node, hints] : by_node) pending_nodes.insert(node);
}

}  // namespace

asio::awaitable<void> replay_hints(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    std::set<std::string> pending_nodes;
    for (;;) {
        timer.expires_after(std::chrono::milliseconds(kRoundMs));
        co_await timer.async_wait(asio::use_awaitable);
        try {
            co_await replay_round(ctx, pending_nodes);
        } catch (const std::exception& e) {
            log::warn("hint replay round failed", {{"error", e.what()}});
        }
    }
}

}  // namespace miroir::workers
