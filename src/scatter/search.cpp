// The search service: plan, ask, merge (scatter/search.hpp). Each node is asked once for its
// first offset+limit hits with their ranking details; the hits are merged in the order one node
// holding everything would give, then cut to the client's window.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/merge/hybrid.hpp>
#include <miroir/merge/order.hpp>
#include <miroir/merge/scrub.hpp>
#include <miroir/merge/search.hpp>
#include <miroir/merge/typo.hpp>
#include <miroir/routing/pinned.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/node_requests.hpp>
#include <miroir/scatter/search.hpp>
#include <miroir/util/uuid.hpp>

namespace miroir::scatter {

using namespace miroir::fleet;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

std::atomic<std::uint64_t> rotation{0};

// What the merge needs of an index's settings.
struct MergeSettings {
    json faceting = json::object();
    std::optional<std::string> distinct;  // the distinctAttribute setting
    json filterable = json::array();
    std::string primary_key;  // full ties are ordered by it

    // Whether the nodes count the values of `field` in facet distributions.
    bool facetable(const std::string& field) const {
        for (const auto& rule : filterable) {
            if (rule.is_string() && (rule == field || rule == "*")) return true;
            if (!rule.is_object()) continue;
            for (const auto& p : rule.value("attributePatterns", json::array())) {
                if (p == field || p == "*") return true;
            }
        }
        return false;
    }
};

// Kept for a second per index, and forgotten when settings change through this Miroir: a
// search does not pay a settings read, and another Miroir's change shows within a second.
constexpr auto kSettingsTtl = std::chrono::seconds(1);
std::mutex settings_mutex;
std::map<std::string, std::pair<std::chrono::steady_clock::time_point, MergeSettings>>
    settings_cache;

asio::awaitable<MergeSettings> merge_settings(Context& ctx, const std::string& uid,
                                              const std::vector<Assignment>& plan,
                                              Deadline deadline) {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(settings_mutex);
        const auto it = settings_cache.find(uid);
        if (it != settings_cache.end() && now - it->second.first < kSettingsTtl) {
            co_return it->second.second;
        }
    }
    MergeSettings out;
    for (const auto& a : plan) {
        auto r = co_await ctx.nodes[a.node]->send(
            node_request(Method::get, index_path(uid) + "/settings"), time_left(ctx, deadline));
        if (!r || r->status >= 500) continue;
        if (r->status != 200) co_return out;  // no such index: the search says so
        const auto settings = json::parse(r->body, nullptr, false);
        if (!settings.is_object()) continue;
        out.faceting = settings.value("faceting", json::object());
        out.filterable = settings.value("filterableAttributes", json::array());
        const auto d = settings.value("distinctAttribute", json());
        if (d.is_string()) out.distinct = d.get<std::string>();
        if (const auto record = co_await lookup_index(ctx, uid); record && record->primary_key) {
            out.primary_key = *record->primary_key;
        }
        std::lock_guard lock(settings_mutex);
        settings_cache[uid] = {now, out};
        break;
    }
    co_return out;
}

// A node holding every shard ranks, counts, pages, dedupes and counts facets as one node does:
// asked with the client's own window, its answer is the answer, Miroir's fields cut out of its
// bytes (no parse, no merge). Nothing when other nodes had to step in (a retry, a hedge split
// across replicas) or the answer is not a JSON object: the merge then asks again.
asio::awaitable<std::optional<http::Response>> whole_answer(Context& ctx, Snapshot fleet,
                                                            Deadline deadline,
                                                            const std::vector<Assignment>& plan,
                                                            const NodeSearch& node_search,
                                                            std::vector<std::size_t> avoid) {
    SearchExtras extra;
    extra.scores = false;
    extra.client_window = true;
    auto gathered = co_await ask_plan(ctx, fleet, deadline, plan, node_search, 0, extra,
                                      std::move(avoid), Answers::raw);
    if (gathered.refusal) co_return std::move(gathered.refusal);
    // the one answer from a node answering for every shard (the first node's, or a retry's)
    std::size_t whole = gathered.asked.size();
    for (std::size_t i = 0; i < gathered.asked.size(); ++i) {
        if (gathered.raw[i].empty()) continue;
        const auto& a = gathered.asked[i];
        if (whole != gathered.asked.size() || a.restricted || a.shards.size() != fleet->shards()) {
            co_return std::nullopt;  // parts from several nodes: they need the merge
        }
        whole = i;
    }
    if (whole == gathered.asked.size()) co_return std::nullopt;
    auto body =
        merge::scrub_search_answer(std::move(gathered.raw[whole]), routing::kReservedPrefix);
    if (!body) co_return std::nullopt;
    co_return http::Response::json(200, std::move(*body));
}

// A split hybrid search's order over `views` (the keyword side's lists first, as many as
// `keyword` has answers with hits): each side merged across nodes, then the keyword side alone
// when it is good enough (`keyword_only`), else both as milli merges them.
merge::Order hybrid_order(const std::vector<const json*>& views, const Gathered& keyword,
                          std::uint64_t depth, double ratio, const std::string& primary_key,
                          bool& keyword_only) {
    std::size_t keyword_lists = 0;
    for (const auto& a : keyword.answers) keyword_lists += !a.is_null() && a.contains("hits");
    const auto split_at = views.begin() + static_cast<std::ptrdiff_t>(keyword_lists);
    const std::vector<const json*> keyword_views(views.begin(), split_at);
    const std::vector<const json*> semantic_views(split_at, views.end());
    auto all = [](const std::vector<const json*>& lists) {
        std::size_t n = 0;
        for (const json* l : lists) n += l->size();
        return n;
    };
    auto keyword_order = merge::merge_ordered(keyword_views, all(keyword_views), primary_key);
    keyword_only = merge::keyword_good_enough(keyword_views, keyword_order, depth, ratio);
    if (keyword_only) return keyword_order;
    auto semantic_order = merge::merge_ordered(semantic_views, all(semantic_views), primary_key);
    for (auto& at : semantic_order) at.first += keyword_lists;
    return merge::merge_hybrid(views, semantic_order, keyword_order, ratio, primary_key);
}

// What the rounds of one search gathered: each node's answer (the semantic side's when a
// hybrid search is split in two), the keyword side's, each node's hits and their merged order.
struct Merged {
    Gathered gathered;
    Gathered keyword;           // split: the keyword side
    bool split = false;         // a hybrid search asked side by side
    bool keyword_only = false;  // split: the keyword side answered alone
    std::vector<json*> lists;   // each node's hits, the keyword side's first
    merge::Order kept;
    std::uint64_t dropped = 0;  // duplicates of a distinct value left out
    std::optional<http::Response> refusal;
};

// 503 when every covering set needs a node below the request's settings-version floor.
void check_floor(const std::vector<Assignment>& plan, const SearchWindow& w,
                 const std::string& uid) {
    for (const auto& a : plan) {
        if (std::find(w.avoid.begin(), w.avoid.end(), a.node) != w.avoid.end()) {
            throw http::ApiError(503, "miroir_settings_version_stale", http::ErrorType::system,
                                 "No set of nodes holding the requested settings version covers "
                                 "every shard of index `" +
                                     uid + "`.");
        }
    }
}

// What the merge of the answers needs to know; `extra` gets what the nodes must add for it.
merge::SearchAsk ask_of(const SearchWindow& w, const MergeSettings& settings, SearchExtras& extra) {
    // distinct is applied again over the merged hits: each node keeps its best hit of a value,
    // the merge keeps the best of those
    const auto distinct = w.distinct ? w.distinct : settings.distinct;
    auto named = [](const std::vector<std::string>& list, const std::string& name) {
        return std::find(list.begin(), list.end(), name) != list.end();
    };
    if (distinct && w.retrieve && !named(*w.retrieve, *distinct)) extra.retrieve = distinct;
    // the distinct values each node hit make the total exact: count them when the nodes can
    const bool count_values = distinct && (w.distinct || settings.facetable(*distinct));
    if (count_values && !named(w.facets, *distinct) && !named(w.facets, "*")) {
        extra.facet = distinct;
    }
    merge::SearchAsk ask;
    ask.page_mode = w.page_mode;
    ask.offset = w.offset;
    ask.limit = w.limit;
    ask.page = w.page;
    ask.hits_per_page = w.hits_per_page;
    ask.want_score = w.want_score;
    ask.want_details = w.want_details;
    ask.q = w.q;
    ask.distinct = distinct;
    ask.count_values = count_values;
    ask.facet_added = extra.facet.has_value();
    ask.client_facets = !w.facets.empty();
    ask.retrieved = extra.retrieve;
    ask.faceting = settings.faceting;
    return ask;
}

// One round: every node asked for its first `depth` hits, both sides of a split hybrid search
// (the semantic side in `m.gathered`); false when a node refused the query (`m.refusal`).
asio::awaitable<bool> ask_round(Context& ctx, const Snapshot& fleet, Deadline deadline,
                                const std::vector<Assignment>& plan, const NodeSearch& node_search,
                                std::uint64_t depth, SearchExtras side,
                                std::vector<std::size_t> avoid, Merged& m) {
    if (m.split) side.side = SearchExtras::Side::semantic;
    m.gathered = co_await ask_plan(ctx, fleet, deadline, plan, node_search, depth, side, avoid);
    if (m.gathered.refusal) {
        m.refusal = std::move(m.gathered.refusal);
        co_return false;
    }
    if (!m.split) co_return true;
    side.side = SearchExtras::Side::keyword;
    m.keyword =
        co_await ask_plan(ctx, fleet, deadline, plan, node_search, depth, side, std::move(avoid));
    if (m.keyword.refusal) {
        m.refusal = std::move(m.keyword.refusal);
        co_return false;
    }
    auto& missing = m.gathered.missing;
    missing.insert(missing.end(), m.keyword.missing.begin(), m.keyword.missing.end());
    std::sort(missing.begin(), missing.end());
    missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
    co_return true;
}

// Each node's hits into `m.lists` and their merged order into `m.kept` (duplicates of a
// distinct value left out); true when some node may hold hits beyond those it sent.
bool order_round(Merged& m, std::uint64_t depth, const SearchWindow& w, const merge::SearchAsk& ask,
                 const std::string& primary_key) {
    m.lists.clear();
    bool more = false;
    std::size_t all = 0;
    for (auto* answers : {&m.keyword.answers, &m.gathered.answers}) {
        if (answers == &m.keyword.answers && !m.split) continue;
        for (auto& a : *answers) {
            if (a.is_null() || !a.contains("hits")) continue;
            m.lists.push_back(&a["hits"]);
            all += a["hits"].size();
            more = more || a["hits"].size() >= depth;
        }
    }
    // the typo rule as the whole index's dictionary scores it
    merge::normalize_typo(m.lists);
    const std::vector<const json*> views(m.lists.begin(), m.lists.end());
    const auto end = merge::window_start(ask) + merge::window_length(ask);
    merge::Order order;
    if (m.split) {
        order =
            hybrid_order(views, m.keyword, depth, *w.semantic_ratio, primary_key, m.keyword_only);
    } else {
        order = merge::merge_ordered(views, ask.distinct ? all : end, primary_key);
    }
    if (!ask.distinct) {
        m.kept = std::move(order);
        if (m.kept.size() > end) m.kept.resize(end);
        return false;
    }
    m.kept = merge::without_duplicates(views, order, *ask.distinct, m.dropped);
    return more;
}

constexpr const char* kShardsQueried = "X-Miroir-Shards-Queried";

// The primary-key planner: when the filter pins document ids, `plan` becomes one owner of each
// of their shards (the hits can be nowhere else; totals and facets count the same documents).
// The number of shards the search asks.
std::size_t narrow_to_pinned(const Context& ctx, const Fleet& fleet, const SearchWindow& w,
                             const std::string& primary_key, std::vector<Assignment>& plan) {
    const auto ids = routing::pinned_ids(w.filter, primary_key);
    if (!ids) return fleet.shards();
    std::vector<std::uint32_t> shards;
    for (const auto& id : *ids) shards.push_back(routing::shard_of(id, fleet.shards()));
    std::sort(shards.begin(), shards.end());
    shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
    auto narrowed = replacements(ctx, fleet, shards, w.avoid);
    std::size_t covered = 0;
    for (const auto& a : narrowed) covered += a.shards.size();
    if (covered != shards.size()) return fleet.shards();  // some shard has no usable owner
    plan = std::move(narrowed);
    return shards.size();
}

}  // namespace

asio::awaitable<Gathered> ask_plan(Context& ctx, Snapshot fleet, Deadline deadline,
                                   const std::vector<Assignment>& plan,
                                   const NodeSearch& node_search, std::uint64_t depth,
                                   SearchExtras extra, std::vector<std::size_t> avoid,
                                   Answers keep) {
    // `extra` and `avoid` by value: a coroutine must not keep references to the caller's
    // temporaries (the defaults are ones)
    const BuildRequest build = [&node_search, depth, &extra](const Assignment& a) {
        return node_search(a, depth, extra);
    };
    auto gathered =
        co_await ask_with_retry(ctx, fleet, deadline, plan, build, true, std::move(avoid), keep);
    // A node writes the filter it refused back into its message, the shard restriction
    // included: the same query without it gets the message one node holding everything gives.
    if (gathered.refusal && !plan.empty() &&
        gathered.refusal->body.find(routing::kShardField) != std::string::npos) {
        Assignment whole = plan.front();
        whole.restricted = false;
        const auto again =
            co_await ctx.nodes[whole.node]->send(build(whole), time_left(ctx, deadline));
        if (again && again->status >= 400 && again->status < 500) {
            gathered.refusal = relay_error(again->status, again->body);
        }
    }
    co_return gathered;
}

asio::awaitable<http::Response> search(Context& ctx, const std::string& uid, const SearchWindow& w,
                                       const NodeSearch& node_search) {
    const auto fleet = ctx.fleet();  // one snapshot for the whole search
    auto plan = covering_set(ctx, *fleet, rotation++, false, w.avoid);
    check_floor(plan, w, uid);
    if (plan.size() == 1 && !plan.front().restricted) {
        auto whole = co_await whole_answer(ctx, fleet, w.deadline, plan, node_search, w.avoid);
        if (whole) {
            whole->headers.set(kShardsQueried, std::to_string(fleet->shards()));
            co_return std::move(*whole);
        }
    }
    const auto settings = co_await merge_settings(ctx, uid, plan, w.deadline);
    const auto shards_asked = narrow_to_pinned(ctx, *fleet, w, settings.primary_key, plan);
    SearchExtras extra;
    auto ask = ask_of(w, settings, extra);
    // each node's hits are already in its rank order: a k-way merge up to the window's end
    const auto end = merge::window_start(ask) + merge::window_length(ask);
    std::uint64_t depth = end;
    // one node answering for every shard ranks on its own: no scores nor details to ask for,
    // unless a retry or a hedge brings in other nodes
    extra.scores = plan.size() > 1;
    // a hybrid search over several nodes: its keyword and semantic sides asked and merged
    // apart, then together (nodes mixing their own sides would each judge the keyword side
    // "good enough" on their share, and weigh other hits); without a query it is a semantic
    // search
    const bool hybrid = w.semantic_ratio && *w.semantic_ratio < 1.0 && !w.q.empty();
    Merged m;
    for (int round = 0;; ++round) {
        m.split = hybrid && extra.scores;
        const bool answered =
            co_await ask_round(ctx, fleet, w.deadline, plan, node_search, depth, extra, w.avoid, m);
        if (!answered) co_return std::move(*m.refusal);
        if (!extra.scores && m.gathered.asked.size() > 1) {
            extra.scores = true;
            continue;
        }
        check_unavailable(ctx, uid, m.gathered.missing);
        const bool more = order_round(m, depth, w, ask, settings.primary_key);
        // duplicates across shards left the window short: ask deeper
        if (!ask.distinct || m.kept.size() >= end || !more || round == 3 || depth == 0) break;
        depth *= 4;
    }
    // the answer from the side that answered: the keyword side alone when it was good enough
    auto& answers = m.split && m.keyword_only ? m.keyword.answers : m.gathered.answers;
    ask.semantic_count = m.split;
    const auto out =
        merge::search_answer(ask, answers, m.lists, m.kept, m.dropped, util::random_uuid());
    auto response = respond_partial(out, std::move(m.gathered.missing));
    response.headers.set(kShardsQueried, std::to_string(shards_asked));
    co_return response;
}

asio::awaitable<json> faceting_settings(Context& ctx, const Fleet& fleet, const std::string& uid) {
    const auto plan = covering_set(ctx, fleet, rotation++);
    const auto settings = co_await merge_settings(ctx, uid, plan, read_deadline(ctx));
    co_return settings.faceting;
}

void forget_settings(const std::string& uid) {
    std::lock_guard lock(settings_mutex);
    settings_cache.erase(uid);
}

}  // namespace miroir::scatter
