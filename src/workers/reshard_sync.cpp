// One copy of an index filled from the other (the backfill, each owner in the order of the
// documents' places), and compared to it by ids and places under the closed gates: what differs
// read again from the index and written, or deleted, on that owner, in place order.
#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/http/params.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>

#include "rebalance.hpp"
#include "reshard.hpp"

namespace miroir::workers::resharding {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using scatter::index_path;
using scatter::node_request;
using Clock = std::chrono::steady_clock;

// A usable owner of `shard` under `fleet`, any group; throws when every owner is down.
std::size_t usable_owner(Context& ctx, const Fleet& fleet, std::uint32_t shard) {
    for (const auto n : anti_entropy::all_owners(fleet, shard)) {
        if (ctx.health.usable(n)) return n;
    }
    throw std::runtime_error("every owner of shard " + std::to_string(shard) + " is down");
}

// The node writes of one owner, enqueued: waited for before the sync returns.
using rebalancing::NodeTasks;

asio::awaitable<void> enqueue(Context& ctx, std::size_t node, upstream::UpstreamRequest request,
                              NodeTasks& tasks) {
    tasks.emplace_back(node, co_await rebalancing::enqueue(ctx, node, std::move(request)));
}

asio::awaitable<void> wait_tasks(Context& ctx, const NodeTasks& tasks) {
    for (const auto& [node, uid] : tasks) {
        const auto state = co_await finished_state(ctx, node, uid);
        if (state != "succeeded") {
            throw std::runtime_error("node `" + ctx.fleet()->node_id(node) + "` task " +
                                     std::to_string(uid) + " " +
                                     (state.empty() ? "did not finish in time" : state));
        }
    }
}

// A stored document's place as stored (empty: none).
std::string place_text(const json& doc) {
    const auto found = doc.find(std::string(routing::kOrdField));
    return found != doc.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// A stored document's place (none: first).
routing::Ord place_of(const json& doc) {
    const auto found = doc.find(std::string(routing::kOrdField));
    if (found == doc.end() || !found->is_string()) return {};
    return routing::ord_of_value(found->get<std::string>()).value_or(routing::Ord{});
}

// `doc` as `to` stores it: its shard under `to`'s count, its place and fields kept.
json restamped(json doc, std::uint32_t shard) {
    doc[std::string(routing::kShardField)] = routing::shard_value(shard);
    return doc;
}

// One node of `from` read in its order (its insertion order: its documents' places), a page at
// a time, restricted to the shards it is read for.
struct Source {
    std::size_t node = 0;
    std::string filter;
    std::uint64_t offset = 0;
    std::deque<json> buffered;
    bool done = false;
};

asio::awaitable<void> refill(Context& ctx, const Copy& from, Source& source, SyncCounts& counts) {
    const auto page = ctx.config.rebalance.page_size;
    json fetch;
    fetch["filter"] = source.filter;
    fetch["offset"] = source.offset;
    fetch["limit"] = page;
    fetch["retrieveVectors"] = true;
    unsigned status = 0;
    const auto answer = co_await rebalancing::call(
        ctx, source.node,
        node_request(Method::post, index_path(from.uid) + "/documents/fetch", fetch.dump()),
        status);
    if (status != 200 || !answer.is_object()) {
        throw std::runtime_error("node `" + ctx.fleet()->node_id(source.node) +
                                 "` did not list the documents of `" + from.uid + "` (" +
                                 std::to_string(status) + ")");
    }
    const auto& results = answer["results"];
    for (const auto& doc : results) source.buffered.push_back(doc);
    source.offset += results.size();
    source.done = results.size() < page;
    counts.read += results.size();
    ctx.metrics.antientropy_read(results.size(), 0);
}

}  // namespace

asio::awaitable<void> backfill(Context& ctx, const Copy& from, const Copy& to,
                               const std::string& pk, const std::string& lease,
                               anti_entropy::Throttle& throttle, SyncCounts& counts) {
    // one usable owner of each shard of `from`, each read for the shards it was chosen for
    std::map<std::size_t, std::vector<std::uint32_t>> chosen;
    for (std::uint32_t shard = 0; shard < from.fleet->shards(); ++shard) {
        chosen[usable_owner(ctx, *from.fleet, shard)].push_back(shard);
    }
    std::vector<Source> sources;
    for (const auto& [node, shards] : chosen) {
        sources.push_back({node, routing::shard_filter(shards), 0, {}, false});
    }
    const auto page = ctx.config.rebalance.page_size;
    const auto path = index_path(to.uid) + "/documents?primaryKey=" + http::percent_encode(pk);
    NodeTasks tasks;
    std::map<std::size_t, json> parts;  // per owner of `to`, in place order
    std::size_t pending = 0;
    for (;;) {
        Source* next = nullptr;
        for (auto& source : sources) {
            if (source.buffered.empty() && !source.done) co_await refill(ctx, from, source, counts);
            if (source.buffered.empty()) continue;
            if (!next || place_of(source.buffered.front()) < place_of(next->buffered.front())) {
                next = &source;
            }
        }
        if (next) {
            auto doc = std::move(next->buffered.front());
            next->buffered.pop_front();
            const auto id = anti_entropy::canonical_id(doc.value(pk, json()));
            const auto shard = routing::shard_of(id, to.fleet->shards());
            const auto stored = restamped(std::move(doc), shard);
            for (const auto node : anti_entropy::all_owners(*to.fleet, shard)) {
                auto& part = parts[node];
                if (part.is_null()) part = json::array();
                part.push_back(stored);
            }
            ++pending;
            ++counts.written;
        }
        if (pending >= page || (!next && pending > 0)) {
            for (auto& [node, part] : parts) {
                if (part.empty()) continue;
                co_await enqueue(ctx, node, node_request(Method::post, path, part.dump()), tasks);
                part = json::array();
            }
            co_await throttle.take(pending);
            pending = 0;
            const bool held = co_await ctx.store.lease(lease, rebalancing::pod_name(), kLeaseMs);
            if (!held) throw rebalancing::Superseded("another Miroir drives this reshard");
        }
        if (!next) break;
    }
    co_await wait_tasks(ctx, tasks);
}

asio::awaitable<std::string> finished_state(Context& ctx, std::size_t node, std::uint64_t uid) {
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(ctx.config.rebalance.task_timeout_ms);
    for (std::uint32_t delay = 2;; delay = std::min<std::uint32_t>(delay * 2, 200)) {
        unsigned status = 0;
        const auto task = co_await rebalancing::call(
            ctx, node, node_request(Method::get, "/tasks/" + std::to_string(uid)), status);
        const auto state = task.is_object() ? task.value("status", std::string()) : "";
        if (state == "succeeded" || state == "failed" || state == "canceled") co_return state;
        if (Clock::now() > deadline) co_return "";
        co_await rebalancing::sleep_ms(delay);
    }
}

asio::awaitable<Places> places_of(Context& ctx, const Copy& from, const Copy& to,
                                  const std::string& pk, SyncCounts& counts) {
    Places places;
    anti_entropy::Throttle unthrottled(0);
    anti_entropy::Counts read;
    const json fields = {pk, std::string(routing::kOrdField)};
    for (std::uint32_t shard = 0; shard < from.fleet->shards(); ++shard) {
        const auto source = usable_owner(ctx, *from.fleet, shard);
        const std::function<void(const json&)> each = [&](const json& doc) {
            const auto id = anti_entropy::canonical_id(doc.value(pk, json()));
            if (id.empty()) return;
            places.held[id] = {place_text(doc), source, doc[pk]};
        };
        const auto filter = routing::shard_filter({shard});
        co_await anti_entropy::stream(ctx, source, from.uid, filter, fields, unthrottled, read,
                                      each);
    }
    counts.read += read.documents_read;
    places.by_shard.resize(to.fleet->shards());
    for (const auto& [id, held] : places.held) {
        places.by_shard[routing::shard_of(id, to.fleet->shards())].push_back(id);
    }
    co_return places;
}

asio::awaitable<void> compare_places(Context& ctx, const Copy& to, const std::string& pk,
                                     const Places& places, std::uint32_t shard, SyncCounts& counts,
                                     Needs& needs) {
    anti_entropy::Throttle unthrottled(0);
    anti_entropy::Counts read;
    const json fields = {pk, std::string(routing::kOrdField)};
    const auto filter = routing::shard_filter({shard});
    for (const auto node : anti_entropy::all_owners(*to.fleet, shard)) {
        std::unordered_map<std::string, std::string> owned;  // id → place, on this owner
        const std::function<void(const json&)> each = [&](const json& doc) {
            const auto id = anti_entropy::canonical_id(doc.value(pk, json()));
            if (!id.empty()) owned[id] = place_text(doc);
        };
        co_await anti_entropy::stream(ctx, node, to.uid, filter, fields, unthrottled, read, each);
        for (const auto& [id, place] : owned) {
            if (!places.held.contains(id)) needs.remove[node].push_back(id);
        }
        for (const auto& id : places.by_shard[shard]) {
            const auto found = owned.find(id);
            if (found == owned.end() || found->second != places.held.at(id).place) {
                needs.write[places.held.at(id).source][id].push_back(node);
            }
        }
    }
    counts.read += read.documents_read;
}

asio::awaitable<void> fetch_needed(Context& ctx, const Copy& from, const Copy& to,
                                   const std::string& pk, const Places& places, const Needs& needs,
                                   Mends& mends) {
    const auto page = ctx.config.rebalance.page_size;
    for (const auto& [id, nodes] : needs.remove) {
        for (const auto& removed : nodes) mends[id].remove.push_back(removed);
    }
    for (const auto& [source, wanted] : needs.write) {
        std::vector<const std::string*> ids;
        for (const auto& entry : wanted) ids.push_back(&entry.first);
        for (std::size_t i = 0; i < ids.size(); i += page) {
            json fetch;
            fetch["ids"] = json::array();
            for (auto k = i; k < std::min(ids.size(), i + page); ++k) {
                fetch["ids"].push_back(places.held.at(*ids[k]).id);
            }
            fetch["limit"] = page;
            fetch["retrieveVectors"] = true;
            unsigned status = 0;
            const auto answer = co_await rebalancing::call(
                ctx, source,
                node_request(Method::post, index_path(from.uid) + "/documents/fetch", fetch.dump()),
                status);
            if (status != 200 || !answer.is_object()) {
                throw std::runtime_error("node `" + ctx.fleet()->node_id(source) +
                                         "` did not give documents of `" + from.uid + "` (" +
                                         std::to_string(status) + ")");
            }
            for (const auto& doc : answer["results"]) {
                const auto id = anti_entropy::canonical_id(doc.value(pk, json()));
                const auto shard = routing::shard_of(id, to.fleet->shards());
                const auto found = wanted.find(id);
                if (found == wanted.end()) continue;
                const auto stored = restamped(doc, shard);
                for (const auto node : found->second) mends[node].write.push_back(stored);
            }
        }
    }
}

asio::awaitable<void> apply(Context& ctx, const Copy& to, const std::string& pk, Mends& mends,
                            SyncCounts& counts) {
    const auto path = index_path(to.uid) + "/documents";
    const auto page = ctx.config.rebalance.page_size;
    NodeTasks tasks;
    for (auto& [node, mend] : mends) {
        // in their places' order: a node orders complete ties by when documents were added
        std::stable_sort(mend.write.begin(), mend.write.end(),
                         [](const json& a, const json& b) { return place_of(a) < place_of(b); });
        auto& write = mend.write;
        for (std::size_t i = 0; i < write.size(); i += page) {
            const auto end = std::min(write.size(), i + page);
            json part(write.begin() + static_cast<std::ptrdiff_t>(i),
                      write.begin() + static_cast<std::ptrdiff_t>(end));
            const auto target = path + "?primaryKey=" + http::percent_encode(pk);
            co_await enqueue(ctx, node, node_request(Method::post, target, part.dump()), tasks);
        }
        if (!mend.remove.empty()) {
            const auto target = path + "/delete-batch";
            co_await enqueue(ctx, node, node_request(Method::post, target, mend.remove.dump()),
                             tasks);
        }
        counts.written += mend.write.size() + mend.remove.size();
    }
    co_await wait_tasks(ctx, tasks);
}

}  // namespace miroir::workers::resharding
