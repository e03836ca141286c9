// The plan of a search (search_plan.hpp).
#include "search_plan.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>

#include <miroir/fleet/fleet.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/routing/pinned.hpp>
#include <miroir/routing/placement.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/node_requests.hpp>

namespace miroir::scatter {

using namespace miroir::fleet;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

std::atomic<std::uint64_t> rotation{0};

// `field` is named by one of `rules` (an attribute, `*`, a parent object's name, or a filterable
// rule's attributePatterns).
bool named_by(const json& rules, const std::string& field) {
    auto covers = [&field](const json& name) {
        if (!name.is_string()) return false;
        const auto& n = name.get_ref<const std::string&>();
        return n == "*" || n == field || (field.starts_with(n) && field[n.size()] == '.');
    };
    for (const auto& rule : rules) {
        if (covers(rule)) return true;
        if (!rule.is_object()) continue;
        for (const auto& p : rule.value("attributePatterns", json::array())) {
            if (covers(p)) return true;
        }
    }
    return false;
}

// Whether an index's settings read a query's words otherwise than by its spaces.
bool own_words(const json& settings) {
    for (const char* list : {"stopWords", "separatorTokens", "nonSeparatorTokens", "dictionary"}) {
        const auto it = settings.find(list);
        if (it != settings.end() && it->is_array() && !it->empty()) return true;
    }
    const auto synonyms = settings.value("synonyms", json::object());
    for (const auto& [key, value] : synonyms.items()) {
        if (key.find(' ') != std::string::npos) return true;
    }
    return false;
}

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
        out.sortable = settings.value("sortableAttributes", json::array());
        const auto max = settings.value("pagination", json::object()).value("maxTotalHits", json());
        if (max.is_number_unsigned()) out.max_total_hits = max.get<std::uint64_t>();
        out.own_words = own_words(settings);
        const auto d = settings.value("distinctAttribute", json());
        if (d.is_string()) out.distinct = d.get<std::string>();
        // the primary key only narrows searches: without the task store they go on unnarrowed
        std::optional<tasks::IndexRecord> record;
        try {
            record = co_await lookup_index(ctx, uid);
        } catch (const tasks::Unavailable&) {
        }
        if (record && record->primary_key) out.primary_key = *record->primary_key;
        std::lock_guard lock(settings_mutex);
        settings_cache[uid] = {now, out};
        break;
    }
    co_return out;
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
    ask.keep_expiry = w.retrieves_expiry();
    ask.q = w.q;
    ask.distinct = distinct;
    ask.count_values = count_values;
    ask.facet_added = extra.facet.has_value();
    ask.client_facets = !w.facets.empty();
    ask.retrieved = extra.retrieve;
    ask.faceting = settings.faceting;
    return ask;
}

// The primary-key planner: when the filter pins document ids, `plan` becomes one owner of each
// of their shards (the hits can be nowhere else; totals and facets count the same documents).
// The number of shards the search asks.
std::size_t narrow_to_pinned(const Context& ctx, const Fleet& fleet, const SearchWindow& w,
                             const std::optional<std::vector<std::string>>& ids,
                             std::vector<Assignment>& plan) {
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

bool MergeSettings::facetable(const std::string& field) const {
    return named_by(filterable, field);
}

bool MergeSettings::sortable_by(const std::string& field) const {
    return named_by(sortable, field);
}

SearchPlan first_plan(Context& ctx, const std::string& uid, const SearchWindow& w) {
    SearchPlan p;
    p.fleet = ctx.fleet_of(uid);  // one snapshot for the whole search
    p.nodes = covering_set(ctx, *p.fleet, rotation++, false, w.avoid);
    for (const auto& a : p.nodes) {
        if (std::find(w.avoid.begin(), w.avoid.end(), a.node) != w.avoid.end()) {
            throw http::ApiError(503, "miroir_settings_version_stale", http::ErrorType::system,
                                 "No set of nodes holding the requested settings version covers "
                                 "every shard of index `" +
                                     uid + "`.");
        }
    }
    p.whole = p.nodes.size() == 1 && !p.nodes.front().restricted;
    p.shards_asked = p.fleet->shards();
    return p;
}

asio::awaitable<void> complete_plan(Context& ctx, const std::string& uid, const SearchWindow& w,
                                    SearchPlan& p) {
    p.settings = co_await merge_settings(ctx, uid, p.nodes, w.deadline);
    p.pinned = routing::pinned_ids(w.filter, p.settings.primary_key);
    p.shards_asked = narrow_to_pinned(ctx, *p.fleet, w, p.pinned, p.nodes);
    p.ask = ask_of(w, p.settings, p.extra);
    // each node's hits are already in its rank order: a k-way merge up to the window's end
    p.depth = merge::window_start(p.ask) + merge::window_length(p.ask);
    // one node answering for every shard ranks on its own: no scores nor details to ask for,
    // unless a retry or a hedge brings in other nodes
    p.extra.scores = p.nodes.size() > 1;
    // a hybrid search over several nodes: its keyword and semantic sides asked and merged
    // apart, then together (nodes mixing their own sides would each judge the keyword side
    // "good enough" on their share, and weigh other hits); without a query it is a semantic
    // search
    p.hybrid = w.semantic_ratio && *w.semantic_ratio < 1.0 && !w.q.empty();
}

asio::awaitable<bool> reads_words_by_spaces(Context& ctx, const Fleet& fleet,
                                            const std::string& uid) {
    const auto plan = covering_set(ctx, fleet, rotation++);
    const auto settings = co_await merge_settings(ctx, uid, plan, read_deadline(ctx));
    co_return !settings.own_words;
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
