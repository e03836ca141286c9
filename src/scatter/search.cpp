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
#include <miroir/merge/performance.hpp>
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

#include "search_plan.hpp"

namespace miroir::scatter {

bool SearchWindow::retrieves_expiry() const {
    return retrieve &&
           std::find(retrieve->begin(), retrieve->end(), routing::kExpiresField) != retrieve->end();
}

using namespace miroir::fleet;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// Query explain with `execute`: what each node of a round was asked and how it answered.
void trace_nodes(const SearchWindow& w, const Fleet& fleet, const Gathered& g, int round,
                 const char* side) {
    if (!w.trace) return;
    for (std::size_t i = 0; i < g.asked.size(); ++i) {
        const auto& a = g.asked[i];
        json node = {{"node", fleet.node_id(a.node)},
                     {"group", fleet.group_of(a.node).id},
                     {"shards", a.shards.size()},
                     {"restricted", a.restricted},
                     {"round", round},
                     {"side", side},
                     {"status", g.status[i]},
                     {"ms", g.took_ms[i] >= 0 ? json(g.took_ms[i]) : json()}};
        const auto& answer = g.answers[i];
        if (answer.is_object() && answer.contains("hits") && answer["hits"].is_array()) {
            node["hits"] = answer["hits"].size();
        }
        w.trace->push_back(std::move(node));
    }
}

// A node holding every shard ranks, counts, pages, dedupes and counts facets as one node does:
// asked with the client's own window, its answer is the answer, Miroir's fields cut out of its
// bytes (no parse, no merge). Nothing when other nodes had to step in (a retry, a hedge split
// across replicas) or the answer is not a JSON object: the merge then asks again.
asio::awaitable<std::optional<http::Response>> whole_answer(Context& ctx, const SearchWindow& w,
                                                            Snapshot fleet,
                                                            const std::vector<Assignment>& plan,
                                                            const NodeSearch& node_search) {
    SearchExtras extra;
    extra.scores = false;
    extra.client_window = true;
    auto gathered = co_await ask_plan(ctx, fleet, w.deadline, plan, node_search, 0, extra, w.avoid,
                                      Answers::raw);
    trace_nodes(w, *fleet, gathered, 0, "whole");
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
    auto body = merge::scrub_search_answer(std::move(gathered.raw[whole]), routing::kReservedPrefix,
                                           w.retrieves_expiry() ? routing::kExpiresField : "");
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
    // split: the semantic side could not embed the query (no vector for a user-provided
    // embedder); the nodes are asked the hybrid query itself and answer with keyword hits, as
    // one node falls back to them
    bool cannot_embed = false;
    std::vector<json*> lists;  // each node's hits, the keyword side's first
    merge::Order kept;
    std::uint64_t dropped = 0;  // duplicates of a distinct value left out
    std::optional<http::Response> refusal;
};

// One round: every node asked for its first `depth` hits, both sides of a split hybrid search
// (the semantic side in `m.gathered`); false when a node refused the query (`m.refusal`).
asio::awaitable<bool> ask_round(Context& ctx, const Snapshot& fleet, Deadline deadline,
                                const std::vector<Assignment>& plan, const NodeSearch& node_search,
                                std::uint64_t depth, SearchExtras side,
                                std::vector<std::size_t> avoid, Merged& m) {
    if (m.split) side.side = SearchExtras::Side::semantic;
    m.gathered = co_await ask_plan(ctx, fleet, deadline, plan, node_search, depth, side, avoid);
    if (m.gathered.refusal) {
        m.cannot_embed = m.split && m.gathered.refusal->body.find("\"vector_embedding_error\"") !=
                                        std::string::npos;
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

}  // namespace

void add_performance(json& out, const Fleet& fleet, const std::vector<Assignment>& asked,
                     const std::vector<json>& answers,
                     std::chrono::steady_clock::time_point started,
                     std::chrono::steady_clock::time_point gathered) {
    std::vector<std::string> names;
    for (const auto& a : asked) names.push_back("node " + fleet.node_id(a.node));
    const auto now = std::chrono::steady_clock::now();
    const std::vector<merge::TimedStep> steps{{"scatter", gathered - started},
                                              {"merge", now - gathered}};
    auto semantic = out.find("semanticHitCount");
    std::optional<json> count;
    if (semantic != out.end()) {
        count = *semantic;
        out.erase(semantic);
    }
    out["performanceDetails"] = merge::performance_details(steps, answers, names);
    if (count) out["semanticHitCount"] = *count;
}

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
    const auto started = std::chrono::steady_clock::now();
    auto p = first_plan(ctx, uid, w);
    const auto& fleet = p.fleet;
    if (p.whole) {
        auto whole = co_await whole_answer(ctx, w, fleet, p.nodes, node_search);
        if (whole) {
            whole->headers.set(kShardsQueried, std::to_string(fleet->shards()));
            co_return std::move(*whole);
        }
    }
    co_await complete_plan(ctx, uid, w, p);
    auto& extra = p.extra;
    auto& ask = p.ask;
    const auto end = p.depth;
    std::uint64_t depth = p.depth;
    Merged m;
    for (int round = 0;; ++round) {
        m.split = p.hybrid && extra.scores && !m.cannot_embed;
        const bool answered = co_await ask_round(ctx, fleet, w.deadline, p.nodes, node_search,
                                                 depth, extra, w.avoid, m);
        trace_nodes(w, *fleet, m.split ? m.keyword : m.gathered, round,
                    m.split ? "keyword" : "all");
        if (m.split) trace_nodes(w, *fleet, m.gathered, round, "semantic");
        if (!answered && m.cannot_embed && m.split) continue;  // asked again, not split
        if (!answered) co_return std::move(*m.refusal);
        if (!extra.scores && m.gathered.asked.size() > 1) {
            extra.scores = true;
            continue;
        }
        check_unavailable(ctx, uid, m.gathered.missing);
        const bool more = order_round(m, depth, w, ask, p.settings.primary_key);
        // duplicates across shards left the window short: ask deeper
        if (!ask.distinct || m.kept.size() >= end || !more || round == 3 || depth == 0) break;
        depth *= 4;
    }
    // the answer from the side that answered: the keyword side alone when it was good enough
    auto& answers = m.split && m.keyword_only ? m.keyword.answers : m.gathered.answers;
    ask.semantic_count = m.split;
    const auto gathered_at = std::chrono::steady_clock::now();
    auto out = merge::search_answer(ask, answers, m.lists, m.kept, m.dropped, util::random_uuid());
    if (w.performance) {
        const auto& who = m.split && m.keyword_only ? m.keyword.asked : m.gathered.asked;
        add_performance(out, *fleet, who, answers, started, gathered_at);
    }
    auto response = respond_partial(out, std::move(m.gathered.missing));
    response.headers.set(kShardsQueried, std::to_string(p.shards_asked));
    co_return response;
}

}  // namespace miroir::scatter
