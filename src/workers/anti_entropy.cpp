// anti-entropy: one pod at a time (the `anti-entropy` lease) compares the replicas of every
// shard of every index. Each owner's documents of a shard are paged (`_miroir_shard` filter)
// and folded into bucket digests; replicas that agree cost one comparison per bucket and no
// further request. The ids of differing buckets, and each node's documents outside the shards
// it owns, are read again and repaired under the closed write gate (anti_entropy_repair.cpp).
// A pass is resumable: where it is, and what it found, is kept per index in the task store.
#include "anti_entropy.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/config/config.hpp>
#include <miroir/entropy/digest.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/hints.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/node_client.hpp>
#include <miroir/util/time.hpp>
#include <miroir/workers/workers.hpp>

#include "rebalance.hpp"

namespace miroir::workers {

namespace anti_entropy {

using namespace miroir::fleet;
using miroir::scatter::index_path;
using miroir::scatter::node_request;
namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;
using Clock = std::chrono::steady_clock;

Throttle::Throttle(std::uint32_t rate) : rate_(rate), start_(Clock::now()) {}

asio::awaitable<void> Throttle::take(std::uint64_t documents) {
    if (rate_ == 0) co_return;
    taken_ += documents;
    const auto due = start_ + std::chrono::microseconds(taken_ * 1000000 / rate_);
    const auto now = Clock::now();
    if (now - due > std::chrono::seconds(1)) {  // idle a while: no burst to catch up
        start_ = now;
        taken_ = 0;
    } else if (due > now) {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_at(due);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

// Pages the documents `filter` selects on node `slot` (every document when empty) to `each`;
// false when the node lacks the index.
asio::awaitable<bool> stream(Context& ctx, std::size_t slot, const std::string& uid,
                             const std::string& filter, const json& fields, Throttle& throttle,
                             Counts& counts, const std::function<void(const json&)>& each,
                             bool vectors) {
    const auto page_size = ctx.config.anti_entropy.page_size;
    const auto timeout = std::chrono::milliseconds(ctx.config.upstream.write_timeout_ms);
    for (std::uint64_t offset = 0;; offset += page_size) {
        json fetch;
        if (!filter.empty()) fetch["filter"] = filter;
        if (!fields.is_null()) fetch["fields"] = fields;
        fetch["offset"] = offset;
        fetch["limit"] = page_size;
        if (vectors) fetch["retrieveVectors"] = true;
        auto result = co_await ctx.nodes[slot]->send(
            node_request(Method::post, index_path(uid) + "/documents/fetch", fetch.dump()),
            timeout);
        if (!result) {
            throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) +
                                     "` did not answer: " + result.error().message());
        }
        if (result->status == 404) co_return false;
        const auto page = json::parse(result->body, nullptr, false);
        if (result->status != 200 || !page.is_object()) {
            throw std::runtime_error("node `" + ctx.fleet()->node_id(slot) +
                                     "` did not list documents of `" + uid + "` (" +
                                     std::to_string(result->status) + ")");
        }
        const auto& results = page["results"];
        for (const auto& doc : results) each(doc);
        counts.documents_read += results.size();
        counts.bytes_read += result->body.size();
        ctx.metrics.antientropy_read(results.size(), result->body.size());
        co_await throttle.take(results.size());
        if (results.size() < page_size) co_return true;
    }
}

// Compares the owners of `shard` by digests; the ids of differing buckets go to `suspects`.
asio::awaitable<void> compare_shard(Context& ctx, const std::string& uid, const std::string& pk,
                                    std::uint32_t shard, const std::vector<std::size_t>& owners,
                                    Throttle& throttle, Counts& counts, Suspects& suspects) {
    const auto shards = ctx.fleet_of(uid)->shards();
    std::vector<entropy::ShardView> views(owners.size(),
                                          entropy::ShardView(ctx.config.anti_entropy.buckets));
    const auto filter = routing::shard_filter({shard});
    for (std::size_t i = 0; i < owners.size(); ++i) {
        auto& view = views[i];
        const std::function<void(const json&)> each = [&](const json& doc) {
            const auto id = canonical_id(doc.value(pk, json()));
            if (!id.empty()) view.add(id, entropy::version_of(doc, routing::shard_of(id, shards)));
        };
        co_await stream(ctx, owners[i], uid, filter, json(), throttle, counts, each);
    }
    std::vector<const entropy::ShardView*> compared;
    for (const auto& view : views) compared.push_back(&view);
    const auto difference = entropy::compare(compared);
    counts.buckets_differing += difference.buckets;
    ctx.metrics.antientropy_shard(false, difference.buckets);
    for (const auto& id : difference.ids) suspects[routing::shard_of(id, shards)].insert(id);
}

namespace {

constexpr std::uint32_t kTickMs = 1000;
constexpr std::uint32_t kLeaseMs = 30000;
const std::string kLeaseName = "anti-entropy";
const std::string kRequest = "request:";
const std::string kIndex = "index:";
const std::string kPass = "pass";

// The pass stopped for now (a rebalance began, the lease went elsewhere); resumed later.
struct Paused : std::runtime_error {
    using std::runtime_error::runtime_error;
};

json to_json(const Counts& c) {
    return {{"shardsChecked", c.shards_checked},
            {"shardsDeferred", c.shards_deferred},
            {"bucketsDiffering", c.buckets_differing},
            {"documentsRead", c.documents_read},
            {"bytesRead", c.bytes_read},
            {"documentsFetched", c.documents_fetched},
            {"documentsWritten", c.documents_written},
            {"documentsDeleted", c.documents_deleted}};
}

Counts counts_of(const json& j) {
    Counts c;
    if (!j.is_object()) return c;
    c.shards_checked = j.value("shardsChecked", std::uint64_t{0});
    c.shards_deferred = j.value("shardsDeferred", std::uint64_t{0});
    c.buckets_differing = j.value("bucketsDiffering", std::uint64_t{0});
    c.documents_read = j.value("documentsRead", std::uint64_t{0});
    c.bytes_read = j.value("bytesRead", std::uint64_t{0});
    c.documents_fetched = j.value("documentsFetched", std::uint64_t{0});
    c.documents_written = j.value("documentsWritten", std::uint64_t{0});
    c.documents_deleted = j.value("documentsDeleted", std::uint64_t{0});
    return c;
}

Counts operator+(Counts a, const Counts& b) {
    a.shards_checked += b.shards_checked;
    a.shards_deferred += b.shards_deferred;
    a.buckets_differing += b.buckets_differing;
    a.documents_read += b.documents_read;
    a.bytes_read += b.bytes_read;
    a.documents_fetched += b.documents_fetched;
    a.documents_written += b.documents_written;
    a.documents_deleted += b.documents_deleted;
    return a;
}

// Renews the anti-entropy lease; Paused when another pod has it.
asio::awaitable<void> keep_lease(Context& ctx) {
    const bool held = co_await ctx.store.lease(kLeaseName, rebalancing::pod_name(), kLeaseMs);
    if (!held) throw Paused("another Miroir runs anti-entropy");
}

asio::awaitable<json> load(Context& ctx, const std::string& key) {
    const auto records = co_await ctx.store.records(kTable);
    for (const auto& [k, text] : records) {
        if (k == key) co_return json::parse(text, nullptr, false);
    }
    co_return json::object();
}

asio::awaitable<void> save(Context& ctx, const std::string& key, const json& value) {
    co_await ctx.store.put_record(kTable, key, value.dump());
}

// The shards of index `uid` some node has hints for: left alone until they are replayed (a
// deletion a node missed must not look like a document the others lack).
asio::awaitable<std::set<std::uint32_t>> hinted_shards(Context& ctx, const std::string& uid,
                                                       std::uint32_t shards) {
    std::set<std::uint32_t> out;
    const auto hints = co_await ctx.store.records(scatter::kHintTable);
    for (const auto& [key, text] : hints) {
        const auto hint = scatter::decode_hint(key, text);
        if (!hint || hint->index != uid) continue;
        if (hint->shards.empty()) {
            for (std::uint32_t s = 0; s < shards; ++s) out.insert(s);
        }
        out.insert(hint->shards.begin(), hint->shards.end());
    }
    co_return out;
}

// The indexes the usable nodes hold, sorted.
asio::awaitable<std::vector<std::string>> index_uids(Context& ctx) {
    const auto fleet = ctx.fleet();
    std::set<std::string> out;
    for (auto n : fleet->members()) {
        if (!ctx.health.usable(n)) continue;
        unsigned status = 0;
        const auto list = co_await rebalancing::call(
            ctx, n, node_request(Method::get, "/indexes?limit=100000"), status);
        if (status != 200 || !list.is_object()) continue;
        for (const auto& index : list.value("results", json::array())) {
            if (index.value("uid", json()).is_string()) out.insert(index["uid"].get<std::string>());
        }
    }
    co_return std::vector<std::string>(out.begin(), out.end());
}

// Each usable node's documents outside the shards it owns (or with no shard at all).
asio::awaitable<void> find_strays(Context& ctx, const std::string& uid, const std::string& pk,
                                  const std::set<std::uint32_t>& hinted, Throttle& throttle,
                                  Counts& counts, Suspects& suspects) {
    const auto fleet = ctx.fleet_of(uid);
    for (auto n : fleet->members()) {
        if (!ctx.health.usable(n)) continue;
        std::vector<std::uint32_t> owned;
        for (std::uint32_t s = 0; s < fleet->shards(); ++s) {
            const auto owners = all_owners(*fleet, s);
            if (std::find(owners.begin(), owners.end(), n) != owners.end()) owned.push_back(s);
        }
        const auto filter =
            owned.empty() ? std::string() : "NOT (" + routing::shard_filter(owned) + ")";
        const std::function<void(const json&)> each = [&](const json& doc) {
            const auto id = canonical_id(doc.value(pk, json()));
            if (id.empty()) return;
            const auto shard = routing::shard_of(id, fleet->shards());
            if (!hinted.contains(shard)) suspects[shard].insert(id);
        };
        const json fields = {pk};
        co_await stream(ctx, n, uid, filter, fields, throttle, counts, each);
    }
}

std::size_t size(const Suspects& suspects) {
    std::size_t n = 0;
    for (const auto& [shard, ids] : suspects) n += ids.size();
    return n;
}

// Repairs the suspects gathered so far; Paused when the write gate cannot be taken now.
asio::awaitable<void> repair_now(Context& ctx, const std::string& uid, const std::string& pk,
                                 Suspects& suspects, Counts& counts) {
    if (suspects.empty()) co_return;
    const bool repaired = co_await repair(ctx, uid, pk, suspects, counts);
    if (!repaired) throw Paused("a rebalance holds the write gate");
    suspects.clear();
}

// One index's pass, from the shard its record says on; the record is saved as it goes.
asio::awaitable<void> check_index(Context& ctx, const std::string& uid, json& state) {
    // an index being resharded, and its shadow, wait for the reshard's end: it compares them
    if (ctx.fleet()->shadow_of(uid) || ctx.fleet()->topology().is_shadow(uid)) co_return;
    const auto record = co_await scatter::lookup_index(ctx, uid);
    if (!record || !record->primary_key) co_return;  // gone, or no document yet
    const auto pk = *record->primary_key;
    const auto key = kIndex + uid;
    Throttle throttle(ctx.config.anti_entropy.documents_per_second);
    auto counts = counts_of(state["current"]);
    const auto hinted = co_await hinted_shards(ctx, uid, ctx.fleet_of(uid)->shards());
    Suspects suspects;
    for (auto shard = state.value("nextShard", std::uint32_t{0});
         shard < ctx.fleet_of(uid)->shards(); ++shard) {
        co_await keep_lease(ctx);
        const auto fleet = ctx.fleet_of(uid);
        if (fleet->topology().rebalancing()) throw Paused("a rebalance runs");
        const auto owners = all_owners(*fleet, shard);
        const bool down = std::any_of(owners.begin(), owners.end(),
                                      [&](std::size_t n) { return !ctx.health.usable(n); });
        if (hinted.contains(shard) || down) {
            ++counts.shards_deferred;
            ctx.metrics.antientropy_shard(true, 0);
        } else {
            if (owners.size() > 1) {
                co_await compare_shard(ctx, uid, pk, shard, owners, throttle, counts, suspects);
            }
            ++counts.shards_checked;
        }
        if (size(suspects) >= ctx.config.anti_entropy.repairs_per_hold) {
            co_await repair_now(ctx, uid, pk, suspects, counts);
        }
        state["nextShard"] = shard + 1;
        state["current"] = to_json(counts);
        co_await save(ctx, key, state);
    }
    co_await find_strays(ctx, uid, pk, hinted, throttle, counts, suspects);
    co_await repair_now(ctx, uid, pk, suspects, counts);
    state["current"] = to_json(counts);
}

// Runs index `uid`'s pass unless one finished since `since`: the one under way when it began
// since then, else a new one.
asio::awaitable<void> run_index(Context& ctx, const std::string& uid, std::int64_t since) {
    const auto key = kIndex + uid;
    auto state = co_await load(ctx, key);
    if (!state.is_object()) state = json::object();
    if (state.value("lastPass", json::object()).value("finishedAt", std::int64_t{0}) >= since) {
        co_return;
    }
    if (!state.value("running", false) || state.value("startedAt", std::int64_t{0}) < since) {
        state["running"] = true;
        state["startedAt"] = util::unix_ms();
        state["nextShard"] = 0;
        state["current"] = to_json(Counts{});
        co_await save(ctx, key, state);
    }
    std::string error;
    try {
        co_await check_index(ctx, uid, state);
    } catch (const Paused&) {
        throw;
    } catch (const std::exception& e) {
        error = e.what();
    }
    if (!error.empty()) {  // the pass starts again next time
        state["running"] = false;
        state["lastError"] = error;
        co_await save(ctx, key, state);
        throw std::runtime_error(error);
    }
    const auto counts = counts_of(state["current"]);
    auto last = to_json(counts);
    last["startedAt"] = state["startedAt"];
    last["finishedAt"] = util::unix_ms();
    state["lastPass"] = last;
    state["total"] = to_json(counts_of(state.value("total", json::object())) + counts);
    state["passes"] = state.value("passes", std::uint64_t{0}) + 1;
    state["running"] = false;
    state["lastError"] = nullptr;
    state.erase("current");
    state.erase("nextShard");
    co_await save(ctx, key, state);
    ctx.metrics.antientropy_pass();
    log::info("anti-entropy pass finished",
              {{"index", uid},
               {"shards", static_cast<std::int64_t>(counts.shards_checked)},
               {"buckets_differing", static_cast<std::int64_t>(counts.buckets_differing)},
               {"written", static_cast<std::int64_t>(counts.documents_written)},
               {"deleted", static_cast<std::int64_t>(counts.documents_deleted)}});
}

// One turn of the job: the passes asked for, then the periodic pass when it is due.
asio::awaitable<void> turn(Context& ctx) {
    if (!co_await ctx.store.lease(kLeaseName, rebalancing::pod_name(), kLeaseMs)) co_return;
    if (ctx.fleet()->topology().rebalancing()) co_return;
    std::map<std::string, std::int64_t> requests;
    json pass;
    const auto records = co_await ctx.store.records(kTable);
    for (const auto& [key, text] : records) {
        if (key.starts_with(kRequest)) {
            requests[key.substr(kRequest.size())] = std::atoll(text.c_str());
        } else if (key == kPass) {
            pass = json::parse(text, nullptr, false);
        }
    }
    if (!pass.is_object()) {  // the first periodic pass comes one interval after the first turn
        pass = {{"startedAt", 0}, {"finishedAt", util::unix_ms()}};
        co_await save(ctx, kPass, pass);
    }
    for (const auto& [uid, at] : requests) {
        std::vector<std::string> uids{uid};
        if (uid.empty()) uids = co_await index_uids(ctx);
        for (const auto& u : uids) co_await run_index(ctx, u, at);
        co_await ctx.store.erase_record(kTable, kRequest + uid);
    }
    const auto interval = static_cast<std::int64_t>(ctx.config.anti_entropy.interval_s) * 1000;
    const auto started = pass.value("startedAt", std::int64_t{0});
    const auto finished = pass.value("finishedAt", std::int64_t{0});
    if (started <= finished && util::unix_ms() - finished < interval) co_return;
    if (started <= finished) {
        pass["startedAt"] = util::unix_ms();
        co_await save(ctx, kPass, pass);
    }
    const auto uids = co_await index_uids(ctx);
    for (const auto& uid : uids) {
        co_await run_index(ctx, uid, pass.value("startedAt", std::int64_t{0}));
    }
    pass["finishedAt"] = util::unix_ms();
    co_await save(ctx, kPass, pass);
}

}  // namespace

}  // namespace anti_entropy

using namespace anti_entropy;

asio::awaitable<void> run_anti_entropy(Context& ctx) {
    asio::steady_timer timer(ctx.executor);
    for (;;) {
        timer.expires_after(std::chrono::milliseconds(kTickMs));
        co_await timer.async_wait(asio::use_awaitable);
        if (!ctx.config.anti_entropy.enabled) continue;
        try {
            co_await turn(ctx);
        } catch (const Paused& e) {
            log::info("anti-entropy paused", {{"reason", e.what()}});
        } catch (const std::exception& e) {
            log::warn("anti-entropy pass failed", {{"error", e.what()}});
        }
    }
}

asio::awaitable<std::int64_t> request_anti_entropy(Context& ctx, const std::string& uid) {
    const auto now = util::unix_ms();
    co_await ctx.store.put_record(kTable, kRequest + uid, std::to_string(now));
    co_return now;
}

asio::awaitable<std::string> anti_entropy_status(Context& ctx) {
    json indexes = json::array();
    json requests = json::object();
    json pass;
    const auto records = co_await ctx.store.records(kTable);
    for (const auto& [key, text] : records) {
        if (key.starts_with(kIndex)) {
            auto state = json::parse(text, nullptr, false);
            if (!state.is_object()) continue;
            json entry = {{"index", key.substr(kIndex.size())},
                          {"state", state.value("running", false) ? "running" : "idle"}};
            entry.update(state);
            entry.erase("running");
            indexes.push_back(std::move(entry));
        } else if (key.starts_with(kRequest)) {
            requests[key.substr(kRequest.size())] = std::atoll(text.c_str());
        } else if (key == kPass) {
            pass = json::parse(text, nullptr, false);
        }
    }
    json out = {{"enabled", ctx.config.anti_entropy.enabled},
                {"intervalS", ctx.config.anti_entropy.interval_s},
                {"pass", pass.is_object() ? pass : json(nullptr)},
                {"requests", requests},
                {"indexes", indexes}};
    co_return out.dump();
}

}  // namespace miroir::workers
