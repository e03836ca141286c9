// Ranking keys from `_rankingScoreDetails` (format in shared/meilisearch-api.md §5.3).
//
// Why raw quantities and not each rule's `score`: a node normalizes some rules against its own
// dictionary (maxTypoCount is 0, 1 or 2 depending on which typo variants of a query word the
// node holds), so the same document can get different typo scores on different nodes. One
// node holding every document buckets on the counts themselves; so does this order.
#include <algorithm>
#include <cmath>
#include <optional>
#include <queue>

#include <miroir/merge/order.hpp>
#include <miroir/routing/shard_field.hpp>

namespace miroir::merge {

namespace {

using json = nlohmann::ordered_json;

double number_at(const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

int match_type_rank(const json& rule) {
    const auto it = rule.find("matchType");
    if (it == rule.end() || !it->is_string()) return 1;
    const auto& type = it->get_ref<const std::string&>();
    if (type == "exactMatch") return 3;
    if (type == "matchesStart") return 2;
    return 1;
}

Step more(double v) { return {Step::Kind::more, v, 2, {}, true, false}; }

// A sort rule's key is "<field>:asc" or "<field>:desc" (custom ranking rules and the `sort`
// parameter alike); geo sorts start with "_geoPoint(".
bool direction_of(const std::string& key, bool& asc) {
    if (key.ends_with(":asc")) {
        asc = true;
        return true;
    }
    if (key.ends_with(":desc")) {
        asc = false;
        return true;
    }
    return false;
}

void add_rule(const std::string& name, const json& rule, std::vector<Step>& steps) {
    if (name == "words") {
        steps.push_back(more(number_at(rule, "matchingWords")));
    } else if (name == "typo") {
        steps.push_back({Step::Kind::fewer, number_at(rule, "typoCount"), 2, {}, true, false});
    } else if (name == "exactness") {
        steps.push_back(more(match_type_rank(rule)));
        if (rule.contains("matchingWords")) steps.push_back(more(number_at(rule, "matchingWords")));
    } else if (name == "vectorSort") {
        steps.push_back(more(number_at(rule, "similarity")));
    } else if (name == "skipped") {
        // the node's search cutoff: nothing to compare
    } else if (bool asc = true; direction_of(name, asc)) {
        if (name.starts_with("_geoPoint(")) {
            const auto d = rule.find("distance");
            const bool missing = d == rule.end() || !d->is_number();
            steps.push_back(
                {Step::Kind::nearer, missing ? 0.0 : d->get<double>(), 2, {}, asc, missing});
            return;
        }
        Step s{Step::Kind::value, 0, 2, {}, asc, false};
        const auto v = rule.find("value");
        if (v != rule.end() && v->is_number()) {
            s.value_class = 0;
            s.number = v->get<double>();
        } else if (v != rule.end() && v->is_string()) {
            s.value_class = 1;
            s.text = v->get_ref<const std::string&>();
        }
        steps.push_back(std::move(s));
    } else {
        // proximity, attributeRank, wordPosition, attribute: their maximum depends on the
        // query and the settings only, so their scores compare across nodes
        steps.push_back(more(number_at(rule, "score")));
    }
}

int three_way(double a, double b) { return a < b ? -1 : a > b ? 1 : 0; }

}  // namespace

RankKey rank_key(const json& hit) {
    RankKey key;
    key.score = number_at(hit, "_rankingScore");
    const auto details = hit.find("_rankingScoreDetails");
    if (details == hit.end() || !details->is_object()) return key;
    // the rules by their `order` (0, 1, 2...: usually already the object's order)
    std::vector<std::pair<double, json::const_iterator>> rules;
    rules.reserve(details->size());
    bool sorted = true;
    for (auto it = details->cbegin(); it != details->cend(); ++it) {
        const double order = number_at(it.value(), "order");
        if (!rules.empty() && order < rules.back().first) sorted = false;
        rules.emplace_back(order, it);
    }
    if (!sorted) {
        std::sort(rules.begin(), rules.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    key.steps.reserve(rules.size() + 1);
    for (const auto& [order, it] : rules) add_rule(it.key(), it.value(), key.steps);
    return key;
}

int compare(const RankKey& a, const RankKey& b) {
    const auto n = std::min(a.steps.size(), b.steps.size());
    // Hits ranked by the same rules that agree on every rule are a complete tie: their
    // `_rankingScore`s may still differ, since a node normalizes some rules against its own
    // dictionary, and ordering by them would order ties by the node that answered.
    bool same_rules = n > 0 && a.steps.size() == b.steps.size();
    for (std::size_t i = 0; i < n; ++i) {
        const Step& x = a.steps[i];
        const Step& y = b.steps[i];
        if (x.kind != y.kind) {  // not the same rules: fall back to the score
            same_rules = false;
            break;
        }
        int c = 0;
        switch (x.kind) {
            case Step::Kind::more:
                c = -three_way(x.number, y.number);
                break;
            case Step::Kind::fewer:
                c = three_way(x.number, y.number);
                break;
            case Step::Kind::value:
                if (x.value_class != y.value_class) {
                    // numbers, then strings, then missing values, whatever the direction
                    c = three_way(x.value_class, y.value_class);
                } else if (x.value_class == 0) {
                    c = three_way(x.number, y.number) * (x.asc ? 1 : -1);
                } else if (x.value_class == 1) {
                    c = x.text.compare(y.text);
                    c = (c < 0 ? -1 : c > 0 ? 1 : 0) * (x.asc ? 1 : -1);
                }
                break;
            case Step::Kind::nearer:
                if (x.missing != y.missing) {
                    c = x.missing ? 1 : -1;
                } else {
                    c = three_way(x.number, y.number) * (x.asc ? 1 : -1);
                }
                break;
        }
        if (c != 0) return c;
    }
    return same_rules ? 0 : -three_way(a.score, b.score);
}

namespace {

// Document ids in one order: numbers by value, then strings; 0 when either is neither.
int compare_ids(const json* a, const json* b) {
    if (!a || !b) return 0;
    if (a->is_number() && b->is_number()) {
        if (a->is_number_integer() && b->is_number_integer()) {
            const auto x = a->get<std::int64_t>(), y = b->get<std::int64_t>();
            return x < y ? -1 : x > y ? 1 : 0;
        }
        const auto x = a->get<double>(), y = b->get<double>();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a->is_string() && b->is_string()) {
        const int c = a->get_ref<const std::string&>().compare(b->get_ref<const std::string&>());
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (a->is_number() && b->is_string()) return -1;
    if (a->is_string() && b->is_number()) return 1;
    return 0;
}

}  // namespace

std::optional<routing::Ord> place_of(const json& doc) {
    if (!doc.is_object()) return std::nullopt;
    const auto it = doc.find(routing::kOrdField);
    if (it == doc.end() || !it->is_string()) return std::nullopt;
    return routing::ord_of_value(it->get_ref<const std::string&>());
}

int compare_places(const std::optional<routing::Ord>& a, const std::optional<routing::Ord>& b) {
    if (!a || !b || *a == *b) return 0;
    return *a < *b ? -1 : 1;
}

int compare_places(const json& a, const json& b) {
    return compare_places(place_of(a), place_of(b));
}

std::vector<std::pair<std::size_t, std::size_t>> merge_ordered(
    const std::vector<const json*>& lists, std::size_t take, std::string_view tie_field) {
    struct Head {
        std::size_t list;
        std::size_t position;
        RankKey key;
        const json* id = nullptr;  // the tie field's value
        std::optional<routing::Ord> place;
    };
    // the heap's top is the hit that ranks first
    auto later = [](const Head& a, const Head& b) {
        if (const int c = compare(a.key, b.key); c != 0) return c > 0;
        if (const int p = compare_places(a.place, b.place); p != 0) return p > 0;
        if (const int t = compare_ids(a.id, b.id); t != 0) return t > 0;
        if (a.list != b.list) return a.list > b.list;
        return a.position > b.position;
    };
    std::priority_queue<Head, std::vector<Head>, decltype(later)> heads(later);
    auto push = [&](std::size_t list, std::size_t position) {
        const json* hits = lists[list];
        if (!hits || !hits->is_array() || position >= hits->size()) return;
        const json& hit = (*hits)[position];
        Head head{list, position, rank_key(hit), nullptr, place_of(hit)};
        if (!tie_field.empty() && hit.is_object()) {
            const auto id = hit.find(std::string(tie_field));
            if (id != hit.end()) head.id = &*id;
        }
        heads.push(std::move(head));
    };
    for (std::size_t l = 0; l < lists.size(); ++l) push(l, 0);
    std::vector<std::pair<std::size_t, std::size_t>> out;
    out.reserve(take);
    while (out.size() < take && !heads.empty()) {
        const auto [list, position] = std::pair(heads.top().list, heads.top().position);
        heads.pop();
        out.emplace_back(list, position);
        push(list, position + 1);
    }
    return out;
}

}  // namespace miroir::merge
