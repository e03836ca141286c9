// What every read route shares: the covering set of nodes a read asks, the shard filter that
// keeps a node to the shards it answers for, and the scrubbing of Miroir's own fields out of
// what the nodes say.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/http/message.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::fleet {
struct Context;
class Fleet;
struct Group;
}  // namespace miroir::fleet

namespace miroir::scatter {

using fleet::Context;
using fleet::Fleet;
using fleet::Group;

// When a read must be answered: its node requests get the time left, at most
// `scatter.node_timeout_ms` each (Deadline::max(): only that bound).
using Deadline = std::chrono::steady_clock::time_point;

// The deadline of a read starting now: `scatter.read_deadline_ms` from now, none when 0.
Deadline read_deadline(const Context& ctx);

// The timeout of one node request of a read: the time left before `deadline`, at most
// `scatter.node_timeout_ms`.
std::chrono::milliseconds time_left(const Context& ctx, Deadline deadline);

// A node a read asks, and the shards it answers for.
struct Assignment {
    std::size_t node;
    std::vector<std::uint32_t> shards;
    bool restricted = false;  // answers for only some of its shards: filter by _miroir_shard
};

// `request` to the nodes of the current snapshot one after the other (`first` first) until one
// answers with no failed exchange and no 5xx: that answer; nothing when none does.
boost::asio::awaitable<std::optional<upstream::UpstreamResponse>> first_answer(
    Context& ctx, upstream::UpstreamRequest request, std::optional<std::size_t> first = {});

// One replica group, then one owner per shard (see replicas.cpp): down nodes are skipped and
// healthy ones preferred to suspect ones; a group that cannot cover every shard with nodes that
// are up gives way to the next, and a shard no node of the chosen group can serve is read from
// another group. Among the usable owners of a shard, `scatter.replica_selection` chooses;
// `stable` always takes the same ones for the same `turn` (an order that must not move, such as
// document browsing). Nodes in `avoid` are left out where another owner can serve.
std::vector<Assignment> covering_set(const Context& ctx, const Fleet& fleet, std::uint64_t turn,
                                     bool stable = false,
                                     const std::vector<std::size_t>& avoid = {});

// Whether the nodes of `group` that are up, `avoid` left out, hold every shard.
bool group_covers(const Context& ctx, const Fleet& fleet, const Group& group,
                  const std::vector<std::size_t>& avoid = {});

// Other replicas for `shards`, none of them in `exclude` nor down, in `only` or any group; the
// shards no such replica holds are left out.
std::vector<Assignment> replacements(const Context& ctx, const Fleet& fleet,
                                     const std::vector<std::uint32_t>& shards,
                                     const std::vector<std::size_t>& exclude,
                                     const Group* only = nullptr);

// How a read keeps the nodes' 200 answers: parsed, or as the nodes sent them (`raw`; the
// answer is then an empty object, so that it still reads as answered).
enum class Answers { parsed, raw };

// What the nodes of a read answered.
struct Gathered {
    std::vector<Assignment> asked;                // answers[i] is asked[i]'s
    std::vector<nlohmann::ordered_json> answers;  // null where the node did not answer 200
    std::vector<std::string> raw;                 // Answers::raw: the 200 answers' bodies
    std::vector<unsigned> status;                 // 0 where no answer came
    std::vector<double> took_ms;                  // -1 where no answer came
    std::vector<std::uint32_t> missing;           // the shards of those nodes
    std::optional<http::Response> refusal;        // a node's 4xx: the request itself is wrong
};

// Sends requests[i] to who[i]'s node, all at once, with the read timeout (no hedging, no
// retry).
boost::asio::awaitable<Gathered> ask_nodes(Context& ctx, Deadline deadline,
                                           const std::vector<const Assignment*>& who,
                                           std::vector<upstream::UpstreamRequest> requests,
                                           Answers keep = Answers::parsed);

// One node's request for the shards it answers for.
using BuildRequest = std::function<upstream::UpstreamRequest(const Assignment&)>;

// Asks every node of `plan` at once, hedging slow ones when `hedge` (an answer may then come
// from other replicas: `asked` says whose); the shards of a node that does not answer are asked
// once more of other replicas, and the node is reported suspect. Nodes in `avoid` are never
// asked again (a read with a settings-version floor; such a read is not hedged). `avoid` is
// taken by value: a coroutine must not keep a reference to a caller's temporary.
boost::asio::awaitable<Gathered> ask_with_retry(Context& ctx, std::shared_ptr<const Fleet> fleet,
                                                Deadline deadline,
                                                const std::vector<Assignment>& plan,
                                                const BuildRequest& build, bool hedge = true,
                                                std::vector<std::size_t> avoid = {},
                                                Answers keep = Answers::parsed);

// Under the `error` policy, 503 miroir_shard_unavailable when shards are missing.
void check_unavailable(const Context& ctx, const std::string& uid,
                       const std::vector<std::uint32_t>& missing);

// A 200 answer, with X-Miroir-Degraded: shards=... when it was built without some shards.
http::Response respond_partial(const nlohmann::ordered_json& body,
                               std::vector<std::uint32_t> missing);

// Searches keep an index's settings (faceting, distinctAttribute) for a second; this drops
// them when a task that may change them finishes.
void forget_settings(const std::string& uid);

// Two filters (null, a string or an array) ANDed as Meilisearch fuses them: both as lists,
// concatenated; null on either side leaves the other.
nlohmann::ordered_json and_filters(const nlohmann::ordered_json& left,
                                   const nlohmann::ordered_json& right);

// The client's filter (null, a string or an array) ANDed with "_miroir_shard IN [...]".
nlohmann::ordered_json with_shards(const nlohmann::ordered_json& filter,
                                   const std::vector<std::uint32_t>& shards);

// The same for a filter given as a query-string parameter, which a node reads as JSON first
// (an array, a quoted string) and else as plain filter text.
std::string with_shards_param(const std::optional<std::string>& filter,
                              const std::vector<std::uint32_t>& shards);

// A node's error as the client may see it: Miroir's attributes taken out of its message.
http::Response relay_error(unsigned status, const std::string& body);

}  // namespace miroir::scatter
