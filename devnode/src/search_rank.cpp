// Ranking: the index's ranking rules and the request's sort rules, each rule's rank of a
// candidate out of a maximum (with Meilisearch's detail fields), the score folding them, and
// the bucket sort's order; sort rules also order document browsing.
#include <algorithm>
#include <cmath>

#include "search_engine.hpp"

namespace devnode {

namespace {

constexpr int kMaxProximityCost = 7;

RuleKind rule_kind(const std::string& rule) {
    if (rule == "words") return RuleKind::words;
    if (rule == "typo") return RuleKind::typo;
    if (rule == "proximity") return RuleKind::proximity;
    if (rule == "attributeRank") return RuleKind::attribute_rank;
    if (rule == "wordPosition") return RuleKind::word_position;
    if (rule == "attribute") return RuleKind::attribute;
    if (rule == "exactness") return RuleKind::exactness;
    if (rule == "sort") return RuleKind::sort;
    return RuleKind::custom;
}

// The `sort` parameter's rules, checked against the ranking rules and sortable attributes.
std::vector<SortRule> sort_params(const json& settings, const std::vector<std::string>& rules,
                                  const SearchParams& p) {
    std::vector<SortRule> sort_param;
    if (!p.sort.empty()) {
        if (std::find(rules.begin(), rules.end(), "sort") == rules.end()) {
            throw search_error("sort",
                               "You must specify where `sort` is listed in the rankingRules "
                               "setting to use the sort parameter at search time.");
        }
        for (const auto& s : p.sort) {
            const auto colon = s.rfind(':');
            const auto dir = colon == std::string::npos ? "" : s.substr(colon + 1);
            if (colon == std::string::npos || (dir != "asc" && dir != "desc")) {
                throw search_error("sort",
                                   "Invalid syntax for the sort parameter: expected "
                                   "expression ending by `:asc` or `:desc`, found `" +
                                       s + "`.");
            }
            const auto field = s.substr(0, colon);
            const auto& sortable = settings["sortableAttributes"];
            const bool ok = std::any_of(sortable.begin(), sortable.end(), [&](const json& a) {
                return glob(a.get<std::string>(), field);
            });
            if (!ok) {
                std::vector<std::string> names = sortable.get<std::vector<std::string>>();
                throw search_error(
                    "sort", "Attribute `" + field + "` is not sortable. " +
                                (names.empty() ? std::string("This index does not have configured "
                                                             "sortable attributes.")
                                               : "Available sortable attributes are: `" +
                                                     [&] {
                                                         std::string r;
                                                         for (auto& n : names)
                                                             r += (r.empty() ? "" : ", ") + n;
                                                         return r;
                                                     }() +
                                                     "`."));
            }
            sort_param.push_back({field, dir == "asc", s});
        }
    }

    return sort_param;
}

// The value a document sorts by for a field: numbers first, then strings, missing last.
void sort_value(const json& doc, const SortRule& rule, RuleResult& r) {
    const auto values = field_values(doc, rule.field);
    std::optional<double> best_number;
    std::optional<std::string> best_string;
    for (const json* v : values) {
        if (v->is_number()) {
            const double d = v->get<double>();
            if (!best_number || (rule.asc ? d < *best_number : d > *best_number)) best_number = d;
        } else if (v->is_string()) {
            const auto s = normalize(v->get<std::string>());
            if (!best_string || (rule.asc ? s < *best_string : s > *best_string)) best_string = s;
        } else if (v->is_boolean()) {
            const std::string s = v->get<bool>() ? "true" : "false";
            if (!best_string || (rule.asc ? s < *best_string : s > *best_string)) best_string = s;
        }
    }
    r.relevancy = false;
    r.asc = rule.asc;
    r.name = rule.key;
    if (best_number) {
        r.sort_class = 0;
        r.number = *best_number;

    } else if (best_string) {
        r.sort_class = 1;
        r.string = *best_string;

    } else {
        r.sort_class = 2;
    }
}

// Negative when `a` ranks before `b`.
int compare_rule(const RuleResult& a, const RuleResult& b) {
    if (a.relevancy) {
        if (a.local == b.local) return 0;
        return a.local > b.local ? -1 : 1;
    }
    if (a.sort_class != b.sort_class) return a.sort_class < b.sort_class ? -1 : 1;
    if (a.sort_class == 0 && a.number != b.number) {
        return (a.number < b.number) == a.asc ? -1 : 1;
    }
    if (a.sort_class == 1 && a.string != b.string) {
        return (a.string < b.string) == a.asc ? -1 : 1;
    }
    return 0;
}

void rank_words(std::size_t k, std::size_t terms, RuleResult& r, Details& details) {
    r.rank = k;
    r.max = terms;
    details.add("matchingWords", std::uint64_t{k});
    details.add("maxMatchingWords", std::uint64_t{terms});
}

// Meilisearch's maximum is the costliest path of the typo graph: each word its typo budget, at
// least 1 (a split into two words costs one typo; `max_typo_cost` in milli's query_term).
// Paths through the concatenation of adjacent words (2- and 3-grams) are not modelled: this
// node matches no concatenated word.
void rank_typo(const Candidate& c, const std::vector<Term>& terms, RuleResult& r,
               Details& details) {
    int count = 0, max = 0;
    for (const auto i : c.used) {
        count += c.matches[i].typos;
        max += std::max(1, terms[i].allowed_typos);
    }
    r.rank = static_cast<std::uint64_t>(max + 1 - count);
    r.max = static_cast<std::uint64_t>(max + 1);
    details.add("typoCount", static_cast<std::uint64_t>(count));
    details.add("maxTypoCount", static_cast<std::uint64_t>(max));
}

void rank_proximity(const Candidate& c, RuleResult& r) {
    const std::size_t k = c.k;
    int cost = 0;
    for (std::size_t j = 0; j + 1 < k; ++j) {
        int best = kMaxProximityCost;
        for (const auto& [a1, p1] : c.matches[c.used[j]].positions) {
            for (const auto& [a2, p2] : c.matches[c.used[j + 1]].positions) {
                if (a1 != a2) continue;
                const int d = p2 - p1;
                const int pair_cost = d > 0 ? d - 1 : std::abs(d) + 1;
                best = std::min(best, std::min(pair_cost, kMaxProximityCost));
            }
        }
        cost += best;
    }
    const int max_cost = kMaxProximityCost * static_cast<int>(k > 0 ? k - 1 : 0);
    r.rank = static_cast<std::uint64_t>(max_cost + 1 - cost);
    r.max = static_cast<std::uint64_t>(max_cost + 1);
}

// As Meilisearch's graph rules: a cost per matched query word, summed; the attribute rule's is
// the lightest weight of an attribute the word is in (at most the heaviest searchable one),
// the position rule's the distance between where the word is and where it stands in the query
// (at most 10). The legacy `attribute` rule is the two in turn.
void rank_attribute(RuleKind kind, const Candidate& c, std::uint64_t heaviest, RuleResult& r,
                    Details& details) {
    const std::size_t k = c.k;
    std::uint64_t attr_cost = 0, pos_cost = 0;
    for (const auto i : c.used) {
        attr_cost += static_cast<std::uint64_t>(std::max(c.matches[i].attribute, 0));
        pos_cost += static_cast<std::uint64_t>(c.matches[i].position_cost);
    }
    const std::uint64_t attr_max = k * heaviest + 1;
    const std::uint64_t pos_max = k * kMaxPositionCost + 1;
    const std::uint64_t attr_rank = attr_max - attr_cost;
    const std::uint64_t pos_rank = pos_max - pos_cost;
    if (kind == RuleKind::attribute_rank) {
        r.rank = attr_rank;
        r.max = attr_max;
    } else if (kind == RuleKind::word_position) {
        r.rank = pos_rank;
        r.max = pos_max;
    } else {
        r.rank = (attr_rank - 1) * pos_max + pos_rank;
        r.max = attr_max * pos_max;
        details.add("attributeRankingOrderScore",
                    static_cast<double>(attr_rank) / static_cast<double>(attr_max));
        details.add("queryWordDistanceScore",
                    static_cast<double>(pos_rank) / static_cast<double>(pos_max));
    }
}

// The score folds the relevancy ranks lexicographically; sort rules are excluded.
double folded_score(const std::vector<RuleResult>& rules) {
    long double rank = 1, max = 1;
    for (const auto& r : rules) {
        if (!r.relevancy) continue;
        rank = (rank - 1) * static_cast<long double>(r.max) + static_cast<long double>(r.rank);
        max *= static_cast<long double>(r.max);
    }
    return static_cast<double>(rank / max);
}

}  // namespace

RankingRules ranking_rules(const json& settings, const SearchParams& p) {
    RankingRules rules;
    rules.names = settings["rankingRules"].get<std::vector<std::string>>();
    for (const auto& rule : rules.names) rules.kinds.push_back(rule_kind(rule));
    rules.custom.resize(rules.names.size());
    for (std::size_t i = 0; i < rules.names.size(); ++i) {
        const auto& rule = rules.names[i];
        if (rule.ends_with(":asc") || rule.ends_with(":desc")) {
            rules.custom[i] =
                SortRule{rule.substr(0, rule.rfind(':')), rule.ends_with(":asc"), rule};
        }
    }
    rules.sort = sort_params(settings, rules.names, p);
    return rules;
}

json sort_value_json(const RuleResult& r) {
    return r.sort_class == 0 ? json(r.number) : r.sort_class == 1 ? json(r.string) : json(nullptr);
}

bool hit_before(const Hit& a, const Hit& b) {
    for (std::size_t i = 0; i < a.rules.size() && i < b.rules.size(); ++i) {
        const int c = compare_rule(a.rules[i], b.rules[i]);
        if (c != 0) return c < 0;
    }
    return a.slot < b.slot;
}

void Ranker::rank(const Candidate& c, Hit& h) const {
    const RankingRules& rules = plan_.rules;
    h.slot = c.slot;
    h.doc = c.doc;
    h.rules.clear();
    h.details.clear();
    for (std::size_t i = 0; i < rules.names.size(); ++i) {
        const RuleKind kind = rules.kinds[i];
        if (kind == RuleKind::sort) {
            for (const auto& s : rules.sort) add_sort_value(*c.doc, s, h);
            continue;
        }
        if (const auto& custom = rules.custom[i]; custom) {
            add_sort_value(*c.doc, *custom, h);
            continue;
        }
        if (plan_.placeholder) continue;  // relevancy rules are skipped without a query
        RuleResult r;
        Details details;
        r.name = rules.names[i];
        if (!rank_relevancy(kind, c, r, details)) continue;
        r.local = static_cast<double>(r.rank) / static_cast<double>(r.max);
        h.rules.push_back(std::move(r));
        if (plan_.p.show_ranking_score_details) h.details.push_back(details);
    }
    h.score = folded_score(h.rules);
}

void Ranker::add_sort_value(const json& doc, const SortRule& rule, Hit& h) const {
    RuleResult r;
    sort_value(doc, rule, r);
    h.rules.push_back(std::move(r));
    if (plan_.p.show_ranking_score_details) h.details.emplace_back();
}

bool Ranker::rank_relevancy(RuleKind kind, const Candidate& c, RuleResult& r,
                            Details& details) const {
    switch (kind) {
        case RuleKind::words:
            rank_words(c.k, plan_.terms.size(), r, details);
            return true;
        case RuleKind::typo:
            rank_typo(c, plan_.terms, r, details);
            return true;
        case RuleKind::proximity:
            rank_proximity(c, r);
            return true;
        case RuleKind::attribute_rank:
        case RuleKind::word_position:
        case RuleKind::attribute:
            rank_attribute(kind, c, plan_.heaviest, r, details);
            return true;
        case RuleKind::exactness:
            rank_exactness(c, r, details);
            return true;
        case RuleKind::sort:
        case RuleKind::custom:
            return false;
    }
    return false;
}

void Ranker::rank_exactness(const Candidate& c, RuleResult& r, Details& details) const {
    const char* type = "noExactMatch";
    // compared as dictionary ids: a query word missing from the dictionary cannot start or
    // equal any attribute
    const std::size_t words = plan_.words.size();
    for (std::size_t ai = 0; word_ids_ && ai < plan_.cache.fields.size(); ++ai) {
        if (plan_.weight[ai] < 0) continue;
        const auto ids = plan_.cache.tokens(c.slot, ai);
        if (ids.empty() || ids.size() < words) continue;
        if (!std::equal(word_ids_->begin(), word_ids_->end(), ids.begin())) continue;
        if (ids.size() == words) {
            type = "exactMatch";
            break;
        }
        type = "matchesStart";
    }
    details.add("matchType", type);
    if (type == std::string_view("exactMatch")) {
        r.rank = 3;
        r.max = 3;
    } else if (type == std::string_view("matchesStart")) {
        r.rank = 2;
        r.max = 3;
    } else {
        const std::size_t k = c.k;
        std::uint64_t exact = 0;
        for (const auto i : c.used) exact += c.matches[i].exact ? 1 : 0;
        details.add("matchingWords", exact);
        details.add("maxMatchingWords", std::uint64_t{k});
        r.rank = exact + 1;
        r.max = (k + 1) * 3;
    }
}

void sort_documents(std::vector<const json*>& docs, const std::vector<std::string>& sort,
                    const json& sortable, const std::string& code) {
    std::vector<SortRule> rules;
    for (const auto& s : sort) {
        const auto colon = s.rfind(':');
        const auto dir = colon == std::string::npos ? "" : s.substr(colon + 1);
        if (colon == std::string::npos || (dir != "asc" && dir != "desc")) {
            throw error(400, code,
                        "Invalid syntax for the sort parameter: expected expression ending by "
                        "`:asc` or `:desc`, found `" +
                            s + "`.");
        }
        const auto field = s.substr(0, colon);
        const bool ok = std::any_of(sortable.begin(), sortable.end(), [&](const json& a) {
            return glob(a.get<std::string>(), field);
        });
        if (!ok) {
            const auto names = sortable.get<std::vector<std::string>>();
            throw error(
                400, code,
                "Attribute `" + field + "` is not sortable. " +
                    (names.empty()
                         ? std::string("This index does not have configured "
                                       "sortable attributes.")
                         : "Available sortable attributes are: " + backquoted_list(names) + "."));
        }
        rules.push_back({field, dir == "asc", s});
    }
    if (rules.empty()) return;
    std::vector<std::pair<std::vector<RuleResult>, const json*>> keyed;
    for (const json* d : docs) {
        std::vector<RuleResult> values(rules.size());
        for (std::size_t i = 0; i < rules.size(); ++i) sort_value(*d, rules[i], values[i]);
        keyed.emplace_back(std::move(values), d);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
        for (std::size_t i = 0; i < a.first.size(); ++i) {
            const int c = compare_rule(a.first[i], b.first[i]);
            if (c != 0) return c < 0;
        }
        return false;
    });
    for (std::size_t i = 0; i < docs.size(); ++i) docs[i] = keyed[i].second;
}

}  // namespace devnode
