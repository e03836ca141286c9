// Write fan-out and the quorum rule of docs/architecture.md: a group succeeds for a shard when
// floor(copies/2)+1 of the shard's owners in that group accepted; a write succeeds when, for
// every shard it carried, at least one group succeeded.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/log/log.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>
#include <miroir/scatter/task_state.hpp>
#include <miroir/upstream/gather.hpp>
#include <miroir/util/time.hpp>

namespace miroir::scatter {

using namespace miroir::fleet;

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Stores a new task; a store that cannot be reached is a 503 the client can retry.
asio::awaitable<void> record(Context& ctx, tasks::Task& task) {
    try {
        co_await ctx.store.create(task);
        if (task.finished() && ctx.task_finished) ctx.task_finished(task);
    } catch (const http::ApiError&) {
        throw;
    } catch (const tasks::Unavailable& e) {
        log::error("task store unavailable", {{"error", e.what()}});
        throw http::ApiError(503, "miroir_task_store_unavailable", http::ErrorType::system,
                             e.what());
    } catch (const std::runtime_error& e) {
        log::error("task store unavailable", {{"error", e.what()}});
        throw http::ApiError(503, "miroir_task_store_unavailable", http::ErrorType::system,
                             std::string("The task store cannot be reached: ") + e.what() + ".");
    }
}

asio::awaitable<std::vector<NodeOutcome>> fan_out(Context& ctx, std::vector<NodeCall> calls) {
    const auto timeout = std::chrono::milliseconds(ctx.config.upstream.write_timeout_ms);
    std::vector<asio::awaitable<upstream::UpstreamResult>> requests;
    for (auto& call : calls) {
        requests.push_back(ctx.nodes[call.node]->send(std::move(call.request), timeout));
    }
    auto results = co_await upstream::gather(std::move(requests));
    std::vector<NodeOutcome> out;
    for (std::size_t i = 0; i < calls.size(); ++i) {
        NodeOutcome outcome{calls[i].node, std::move(results[i]), std::nullopt};
        // 202 with a task; 200 for a cancelation or a task deletion, as Meilisearch answers them
        const auto status = outcome.result ? outcome.result->status : 0;
        if (status == 202 || status == 200) {
            const auto body = nlohmann::json::parse(outcome.result->body, nullptr, false);
            if (body.is_object() && body.contains("taskUid") &&
                body["taskUid"].is_number_unsigned()) {
                outcome.task_uid = body["taskUid"].get<std::uint64_t>();
            }
        }
        if (!outcome.task_uid && (status < 200 || status > 299)) {
            log::warn("node refused a write",
                      {{"node", ctx.fleet()->node_id(outcome.node)},
                       {"status", outcome.result ? static_cast<int>(outcome.result->status) : 0},
                       {"error", outcome.result ? outcome.result->body.substr(0, 200)
                                                : outcome.result.error().message()}});
        }
        out.push_back(std::move(outcome));
    }
    co_return out;
}

std::vector<NodeCall> broadcast(const Fleet& fleet, const upstream::UpstreamRequest& request) {
    std::vector<NodeCall> calls;
    for (auto slot : fleet.members()) calls.push_back({slot, request});
    return calls;
}

const upstream::UpstreamResponse* refusal_in(const std::vector<NodeOutcome>& outcomes) {
    for (const auto& o : outcomes) {
        if (o.result && o.result->status >= 400 && o.result->status < 500) return &*o.result;
    }
    return nullptr;
}

std::string nodes_without(const Fleet& fleet, const std::vector<NodeOutcome>& outcomes,
                          unsigned ok_status) {
    std::string names;
    for (const auto& o : outcomes) {
        if (o.result && o.result->status == ok_status) continue;
        if (!names.empty()) names += ", ";
        names += fleet.node_id(o.node);
    }
    return names;
}

nlohmann::ordered_json summary(const tasks::Task& task) {
    nlohmann::ordered_json j;
    j["taskUid"] = task.uid;
    j["indexUid"] = task.index_uid.empty() ? nlohmann::ordered_json(nullptr)
                                           : nlohmann::ordered_json(task.index_uid);
    j["status"] = "enqueued";  // as Meilisearch: a summary is always of an enqueued task
    j["type"] = task.type;
    j["enqueuedAt"] = util::rfc3339(util::Time(std::chrono::duration_cast<util::Time::duration>(
        std::chrono::nanoseconds(task.enqueued_at))));
    if (task.custom_metadata) j["customMetadata"] = *task.custom_metadata;
    return j;
}

namespace {

std::atomic<std::uint64_t> hint_sequence{0};

// Shard numbers as a list for a header or a message, the first 16 then `...`.
std::string shard_list(const std::vector<std::uint32_t>& shards) {
    std::string list;
    for (std::size_t i = 0; i < shards.size() && i < 16; ++i) {
        list += (i ? "," : "") + std::to_string(shards[i]);
    }
    if (shards.size() > 16) list += ",...";
    return list;
}

// The shards of `shards` that reached the write quorum (`mode`) in no group.
std::vector<std::uint32_t> without_quorum(const std::string& mode, const Fleet& fleet,
                                          const std::vector<bool>& accepted,
                                          const std::vector<std::uint32_t>& shards) {
    std::vector<std::uint32_t> lost;
    for (auto shard : shards) {
        bool ok = false;
        for (const auto& group : fleet.groups()) {
            const auto owners = fleet.owners(group, shard);
            std::uint32_t yes = 0;
            for (auto node : owners) yes += node < accepted.size() && accepted[node] ? 1 : 0;
            const auto need = mode == "one"   ? 1u
                              : mode == "all" ? static_cast<std::uint32_t>(owners.size())
                                              : group.quorum;
            if (yes >= need && yes > 0) ok = true;
        }
        if (!ok) lost.push_back(shard);
    }
    return lost;
}

// The shards of `shards` some owner that was asked did not take.
std::vector<std::uint32_t> missed_shards(const Fleet& fleet, const std::vector<bool>& accepted,
                                         const std::set<std::size_t>& asked,
                                         const std::vector<std::uint32_t>& shards) {
    std::vector<std::uint32_t> out;
    for (auto shard : shards) {
        bool missed = false;
        for (const auto& group : fleet.written_groups()) {
            for (auto node : fleet.write_owners(group, shard)) {
                missed = missed || (asked.contains(node) && !accepted[node]);
            }
        }
        if (missed) out.push_back(shard);
    }
    return out;
}

// A hint for each node asked that did not take the write, stored before the write is
// acknowledged.
asio::awaitable<void> store_hints(Context& ctx, const Fleet& fleet, const tasks::Task& task,
                                  const std::vector<bool>& accepted,
                                  const std::set<std::size_t>& asked, const HintOf& hint_of) {
    std::vector<std::pair<std::string, std::uint64_t>> sources;
    for (const auto& t : task.node_tasks) sources.emplace_back(t.node, t.uid);
    for (auto node : asked) {
        if (accepted[node]) continue;
        Hint hint = hint_of(node);
        hint.node = fleet.node_id(node);
        hint.index = task.index_uid;
        hint.sources = sources;
        hint.at = now_ns();
        hint.key = hint_key(hint.node, hint.at, hint_sequence++);
        try {
            co_await ctx.store.put_record(kHintTable, hint.key, encode(hint));
        } catch (const std::runtime_error& e) {
            log::error("task store unavailable", {{"error", e.what()}});
            throw http::ApiError(503, "miroir_task_store_unavailable", http::ErrorType::system,
                                 std::string("The write reached its quorum, but what node `") +
                                     hint.node + "` missed could not be recorded: " + e.what() +
                                     ". Retry it.");
        }
        ctx.metrics.hint_stored(hint.node);
        log::warn("write missed by a node, hint stored",
                  {{"node", hint.node},
                   {"index", hint.index},
                   {"task", static_cast<std::int64_t>(task.uid)}});
    }
}

}  // namespace

asio::awaitable<http::Response> conclude(Context& ctx, const Fleet& fleet, tasks::Task task,
                                         const std::vector<NodeOutcome>& outcomes,
                                         const std::vector<std::uint32_t>& shards,
                                         const HintOf& hint_of) {
    std::vector<bool> accepted(fleet.size(), false);
    std::set<std::size_t> asked;
    for (const auto& o : outcomes) {
        asked.insert(o.node);
        if (o.task_uid) {
            accepted[o.node] = true;
            tasks::NodeTask node_task;
            node_task.node = fleet.node_id(o.node);
            node_task.uid = *o.task_uid;
            task.node_tasks.push_back(std::move(node_task));
        }
    }

    // every node refused with an HTTP error: that error is the answer (nothing was written)
    if (task.node_tasks.empty() && !outcomes.empty()) {
        for (const auto& o : outcomes) {
            if (o.result && o.result->status >= 400 && o.result->status < 500) {
                co_return relay_error(o.result->status, o.result->body);
            }
        }
    }

    // document writes (those that hint what a node missed) follow `write_quorum`; a change every
    // node must make (an index, settings, a broadcast edition) needs a majority
    const std::string mode = hint_of ? ctx.config.effective_write_quorum() : "majority";
    const auto lost = without_quorum(mode, fleet, accepted, shards);
    if (!lost.empty()) {
        throw http::ApiError(503, "miroir_no_quorum", http::ErrorType::system,
                             "No replica group reached a write quorum for shard(s) " +
                                 shard_list(lost) + " of index `" + task.index_uid +
                                 "`. The write may be partially applied; retry it.");
    }

    std::string missed;
    for (auto node : asked) {
        if (!accepted[node]) missed += (missed.empty() ? "" : ",") + fleet.node_id(node);
    }
    if (!missed.empty() && hint_of) {
        co_await store_hints(ctx, fleet, task, accepted, asked, hint_of);
    }
    task.status = task.node_tasks.empty() ? "succeeded" : "enqueued";
    if (task.node_tasks.empty()) {
        task.started_at = task.finished_at = task.enqueued_at;
        finish_details(task, 0);
    }
    co_await record(ctx, task);
    auto response = http::Response::json(202, summary(task).dump());
    if (!missed.empty()) {
        auto header = "nodes=" + missed;
        const auto missed_of = missed_shards(fleet, accepted, asked, shards);
        if (!missed_of.empty() && missed_of.size() < shards.size()) {
            header += ";shards=" + shard_list(missed_of);
        }
        response.headers.set("X-Miroir-Degraded", header);
    }
    // the topology the write was routed and judged on
    response.headers.set("X-Miroir-Topology-Version", std::to_string(fleet.version()));
    co_return response;
}

asio::awaitable<http::Response> fail_at_once(Context& ctx, tasks::Task task, std::string code,
                                             std::string message) {
    task.status = "failed";
    task.error = http::ApiError(400, code, http::ErrorType::invalid_request, message).body();
    task.started_at = task.finished_at = task.enqueued_at;
    finish_details(task, 0);
    co_await record(ctx, task);
    co_return http::Response::json(202, summary(task).dump());
}

void check_index_uid(const std::string& uid) {
    const bool ok =
        !uid.empty() && uid.size() <= 400 && std::all_of(uid.begin(), uid.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
        });
    if (!ok) {
        throw http::error(400, "invalid_index_uid",
                          "`" + uid +
                              "` is not a valid index uid. Index uid can be an integer or a "
                              "string containing only alphanumeric characters, hyphens (-) and "
                              "underscores (_), and can not be more than 512 bytes.");
    }
}

std::string index_path(const std::string& uid) { return "/indexes/" + http::percent_encode(uid); }

tasks::Task new_task(const std::string& index_uid, std::string type, const json& details,
                     std::uint32_t copies) {
    tasks::Task t;
    t.index_uid = index_uid;
    t.type = std::move(type);
    t.details = details.is_null() ? std::string() : details.dump();
    t.enqueued_at = now_ns();
    t.copies = copies;
    return t;
}

std::vector<std::uint32_t> all_shards(const Fleet& fleet) {
    std::vector<std::uint32_t> out(fleet.shards());
    for (std::uint32_t s = 0; s < fleet.shards(); ++s) out[s] = s;
    return out;
}

upstream::UpstreamRequest node_request(Method method, std::string target, std::string body,
                                       std::string content_type) {
    upstream::UpstreamRequest r;
    r.method = method;
    r.target = std::move(target);
    r.body = std::move(body);
    r.content_type = std::move(content_type);
    return r;
}

asio::awaitable<std::optional<tasks::IndexRecord>> lookup_index(Context& ctx,
                                                                const std::string& uid) {
    if (auto known = co_await ctx.store.index(uid)) co_return known;
    const auto fleet = ctx.fleet();
    for (auto slot : fleet->members()) {
        auto result = co_await ctx.nodes[slot]->send(
            node_request(Method::get, index_path(uid)),
            std::chrono::milliseconds(ctx.config.scatter.node_timeout_ms));
        if (!result) continue;
        if (result->status == 404) co_return std::nullopt;
        if (result->status != 200) continue;
        const auto body = nlohmann::json::parse(result->body, nullptr, false);
        tasks::IndexRecord record{uid, std::nullopt, fleet->shards()};
        if (body.is_object() && body.contains("primaryKey") && body["primaryKey"].is_string()) {
            record.primary_key = body["primaryKey"].get<std::string>();
        }
        co_await ctx.store.put_index(record);
        co_return record;
    }
    throw http::ApiError(503, "miroir_no_quorum", http::ErrorType::system,
                         "No node answered about index `" + uid + "`.");
}

asio::awaitable<std::vector<NodeOutcome>> create_on_nodes(Context& ctx, const std::string& uid,
                                                          const std::optional<std::string>& pk,
                                                          bool every_node) {
    json body;
    body["uid"] = uid;
    body["primaryKey"] = pk ? json(*pk) : json(nullptr);
    const auto fleet = ctx.fleet();  // one snapshot: the write is routed and judged on it
    auto created = co_await fan_out(
        ctx, broadcast(*fleet, node_request(Method::post, "/indexes", body.dump())));
    if (every_node) {
        // all or nothing: the nodes that took it delete it again when another did not
        std::vector<NodeCall> undo;
        std::string missed;
        for (const auto& o : created) {
            if (o.task_uid) {
                undo.push_back({o.node, node_request(Method::del, index_path(uid))});
            } else {
                missed += (missed.empty() ? "" : ", ") + fleet->node_id(o.node) +
                          (o.result ? " (" + std::to_string(o.result->status) + ")" : "");
            }
        }
        if (!missed.empty()) {
            co_await fan_out(ctx, std::move(undo));
            log::warn("index creation rolled back", {{"index", uid}, {"nodes", missed}});
            throw http::ApiError(503, "miroir_no_quorum", http::ErrorType::system,
                                 "Index `" + uid +
                                     "` was not created: it must be created on every node, and " +
                                     missed + " did not take it. Nothing was kept; retry it.");
        }
    }
    json settings;
    settings["filterableAttributes"] = json::array({routing::kShardField});
    auto shard_field = co_await fan_out(
        ctx, broadcast(*fleet, node_request(Method::patch, index_path(uid) + "/settings",
                                            settings.dump())));
    // a creation task finishes with both, so that its settings are verified once complete
    created.insert(created.end(), std::make_move_iterator(shard_field.begin()),
                   std::make_move_iterator(shard_field.end()));
    // locals, not braced temporaries, in co_await expressions: GCC 12 miscompiles those
    const tasks::IndexRecord record{uid, pk, fleet->shards()};
    co_await ctx.store.put_index(record);
    co_return created;
}

}  // namespace miroir::scatter
