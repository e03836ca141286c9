// The federated merge of hits (see federation.hpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include <miroir/merge/federation.hpp>

namespace miroir::merge {

using json = nlohmann::ordered_json;

namespace {

// One hit's place in the merge.
struct Entry {
    json values;
    std::size_t query = 0;
    double weighted = 0;  // _rankingScore × weight
    json* hit = nullptr;
};

bool is_sort_rule(const std::string& name) {
    return name.ends_with(":asc") || name.ends_with(":desc") || name.starts_with("_geoPoint(");
}

// A hit's ranking as the federated merge compares it, from its ranking-score details: a run of
// relevancy rules is one score (the hit's ranking score: exact when the relevancy rules are not
// split by a sort rule), a sort rule its value, vector similarity its similarity.
json weighted_values(const json& hit, double weight) {
    std::vector<std::pair<std::int64_t, std::string>> rules;
    const json details = hit.value("_rankingScoreDetails", json::object());
    for (const auto& [name, d] : details.items()) rules.emplace_back(d.value("order", 0), name);
    std::sort(rules.begin(), rules.end());
    const double score = hit.value("_rankingScore", 0.0) * weight;
    json values = json::array();
    bool open = false;
    auto flush = [&] {
        if (open) values.push_back(json::object({{"score", score}}));
        open = false;
    };
    for (const auto& [order, name] : rules) {
        const auto& d = details[name];
        if (name == "vectorSort") {
            flush();
            values.push_back(json::object({{"vector", d.value("similarity", 0.0) * weight}}));
        } else if (is_sort_rule(name)) {
            flush();
            json sort;
            sort["asc"] = name.ends_with(":asc") ||
                          (name.starts_with("_geoPoint(") && !name.ends_with(":desc"));
            sort["value"] = d.contains("value") ? d["value"] : d.value("distance", json());
            values.push_back(json::object({{"sort", sort}}));
        } else {
            open = true;
        }
    }
    flush();
    return values;
}

int order_of(const json& a, const json& b, bool asc) {
    if (a.is_null() != b.is_null()) return a.is_null() ? 1 : -1;
    if (a.is_number() != b.is_number()) return a.is_number() ? -1 : 1;
    int c = 0;
    if (a.is_number()) {
        const double x = a.get<double>(), y = b.get<double>();
        c = x < y ? -1 : x > y ? 1 : 0;
    } else if (a.is_string() && b.is_string()) {
        c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
        c = c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    return asc ? c : -c;
}

// Negative when `a` comes first: scores by value, sort values in their direction; at values
// that cannot be compared, the hit with more values left, then the higher weighted score; at
// the end, the earlier query.
int compare(const Entry& a, const Entry& b) {
    const auto& l = a.values;
    const auto& r = b.values;
    std::size_t i = 0;
    for (; i < l.size() && i < r.size(); ++i) {
        const bool x_score = !l[i].contains("sort"), y_score = !r[i].contains("sort");
        if (x_score && y_score) {
            const double x =
                l[i].contains("score") ? l[i]["score"].get<double>() : l[i]["vector"].get<double>();
            const double y =
                r[i].contains("score") ? r[i]["score"].get<double>() : r[i]["vector"].get<double>();
            if (std::fabs(x - y) > std::numeric_limits<double>::epsilon()) return x > y ? -1 : 1;
            continue;
        }
        if (!x_score && !y_score && l[i]["sort"]["asc"] == r[i]["sort"]["asc"]) {
            const int c = order_of(l[i]["sort"]["value"], r[i]["sort"]["value"],
                                   l[i]["sort"]["asc"].get<bool>());
            if (c != 0) return c;
            continue;
        }
        if (l.size() != r.size()) return l.size() > r.size() ? -1 : 1;
        if (a.weighted != b.weighted) return a.weighted > b.weighted ? -1 : 1;
        break;
    }
    if (i == l.size() || i == r.size()) {
        if (l.size() != r.size()) return l.size() > r.size() ? -1 : 1;
    }
    return a.query < b.query ? -1 : a.query > b.query ? 1 : 0;
}

}  // namespace

json federated_hits(const std::vector<FederatedQuery>& queries, std::vector<json>& results,
                    std::uint64_t from, std::uint64_t count, const json* remote) {
    std::vector<std::vector<Entry>> lists(queries.size());
    for (std::size_t q = 0; q < queries.size(); ++q) {
        for (auto& hit : results[q]["hits"]) {
            Entry e;
            e.values = weighted_values(hit, queries[q].weight);
            e.query = q;
            e.weighted = hit.value("_rankingScore", 0.0) * queries[q].weight;
            e.hit = &hit;
            lists[q].push_back(std::move(e));
        }
    }
    // each query's hits are in its own order already: a k-way merge of the queries' lists
    std::vector<Entry*> entries;
    std::vector<std::size_t> heads(lists.size(), 0);
    for (;;) {
        std::size_t best = lists.size();
        for (std::size_t q = 0; q < lists.size(); ++q) {
            if (heads[q] == lists[q].size()) continue;
            if (best == lists.size() || compare(lists[q][heads[q]], lists[best][heads[best]]) < 0) {
                best = q;
            }
        }
        if (best == lists.size()) break;
        entries.push_back(&lists[best][heads[best]++]);
    }
    std::set<std::pair<std::string, std::string>> seen;
    json hits = json::array();
    std::uint64_t kept = 0;
    for (const Entry* entry : entries) {
        const Entry& e = *entry;
        json& hit = *e.hit;
        const auto& q = queries[e.query];
        if (q.primary_key && hit.contains(*q.primary_key) &&
            !seen.emplace(q.uid, hit[*q.primary_key].dump()).second) {
            continue;
        }
        if (kept++ < from || hits.size() >= count) continue;
        if (q.strip_key) hit.erase(*q.primary_key);
        if (!q.show_score) hit.erase("_rankingScore");
        if (!q.show_details) hit.erase("_rankingScoreDetails");
        json fed;
        fed["indexUid"] = q.uid;
        fed["queriesPosition"] = e.query;
        fed["weightedRankingScore"] = e.weighted;
        if (remote) fed["remote"] = *remote;
        hit["_federation"] = std::move(fed);
        hits.push_back(std::move(hit));
    }

    return hits;
}

}  // namespace miroir::merge
