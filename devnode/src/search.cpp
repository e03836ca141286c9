// Keyword search, phase by phase: the request checked into a plan, candidates matched and
// ranked (only the window kept when nothing can drop a hit), the semantic side merged, the
// threshold and distinct applied, facets counted, and the window of hits formatted.
//
// The model (documented in devnode/README.md): each ranking rule gives a document a rank out
// of a maximum; rules are applied in order (ties go to the next rule, then to internal id);
// the score folds the ranks lexicographically. The typo rule's maximum depends on which typo
// variants of the query words exist in this node's own dictionary, as in Meilisearch, so the
// same query can be normalized differently on different nodes.
#include "search.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <miroir/util/time.hpp>

#include "search_engine.hpp"

namespace devnode {

namespace {

constexpr std::size_t kMaxQueryWords = 10;

// Each searchable attribute's weight for the attribute rules, as Meilisearch weighs them:
// its place in the searchableAttributes list, or 0 for every field when the list is "*"
// (no field outranks another then); -1 for one that attributesToSearchOn leaves out (the
// others keep their weights). Nullopt when attributesToSearchOn names `*`.
std::optional<std::vector<int>> field_weights(const json& settings,
                                              const std::vector<std::string>& fields,
                                              const SearchParams& p) {
    const bool every_field = settings["searchableAttributes"] == json::array({"*"});
    std::vector<int> weight(fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i)
        weight[i] = every_field ? 0 : static_cast<int>(i);
    if (p.attributes_to_search_on) {
        for (const auto& a : *p.attributes_to_search_on) {
            if (a == "*") return std::nullopt;  // every attribute: as without the parameter
            if (std::find(fields.begin(), fields.end(), a) == fields.end() &&
                settings["searchableAttributes"] != json::array({"*"})) {
                throw search_error(
                    "attributes_to_search_on", "Attribute `" + a +
                                                   "` is not searchable. Available searchable "
                                                   "attributes are: `" +
                                                   [&] {
                                                       std::string s;
                                                       for (const auto& f : fields)
                                                           s += (s.empty() ? "" : ", ") + f;
                                                       return s;
                                                   }() +
                                                   "`.");
            }
        }
        for (std::size_t i = 0; i < fields.size(); ++i) {
            const bool searched =
                std::find(p.attributes_to_search_on->begin(), p.attributes_to_search_on->end(),
                          fields[i]) != p.attributes_to_search_on->end();
            if (!searched) weight[i] = -1;
        }
    }

    return weight;
}

// The vector and hybrid parameters checked against the index's embedders.
void check_vector_params(const json& settings, const SearchParams& p) {
    if (p.vector && !p.hybrid_embedder) {
        throw error(400, "missing_search_hybrid",
                    "Passing `vector` as a parameter requires `hybrid` to be set.");
    }
    if (p.hybrid_embedder) {
        const auto& embedders = settings["embedders"];
        if (!embedders.contains(*p.hybrid_embedder)) {
            throw error(400, "invalid_search_embedder",
                        "Cannot find embedder with name `" + *p.hybrid_embedder + "`.");
        }
        const auto dimensions = embedders[*p.hybrid_embedder]["dimensions"].get<std::size_t>();
        if (p.vector && p.vector->size() != dimensions) {
            throw error(400, "invalid_vector_dimensions",
                        "Invalid vector dimensions: expected: `" + std::to_string(dimensions) +
                            "`, found: `" + std::to_string(p.vector->size()) + "`.");
        }
        if (!p.vector && p.semantic_ratio > 0.0) {
            throw error(400, "invalid_search_vector",
                        "Invalid value at `.vector`: the embedder `" + *p.hybrid_embedder +
                            "` is `userProvided`: a `vector` is required for a semantic or "
                            "hybrid search.");
        }
    }
}

// The request checked against the index, in Meilisearch's order of errors. Nullopt when
// attributesToSearchOn names `*` (the search is then the one without the parameter).
std::optional<std::string> distinct_attribute(const json& settings, const SearchParams& p);

std::optional<SearchPlan> plan_search(const Index& index, const SearchParams& p) {
    const auto& settings = index.settings;
    auto filter = parse_filter(p.filter, "invalid_search_filter");
    check_filterable(filter, settings["filterableAttributes"], "invalid_search_filter",
                     p.all_facet_values ? nullptr : &index.uid);
    const SearchCache& cache = cache_of(index);
    auto weight = field_weights(settings, cache.fields, p);
    if (!weight) return std::nullopt;
    distinct_attribute(settings, p);  // checked before the facets, as Meilisearch checks it
    SearchPlan plan{.index = index,
                    .p = p,
                    .cache = cache,
                    .filter = std::move(filter),
                    .weight = std::move(*weight),
                    .rules = ranking_rules(settings, p),
                    .facet_fields = facets_asked(settings, cache, p),
                    .words = tokenize(p.q)};
    const bool every_field = settings["searchableAttributes"] == json::array({"*"});
    plan.heaviest = every_field || cache.fields.empty() ? 0 : cache.fields.size() - 1;
    // the query's terms and their typo budgets
    if (plan.words.size() > kMaxQueryWords) plan.words.resize(kMaxQueryWords);
    plan.terms = query_terms(settings, p.q, plan.words);
    plan.placeholder = plan.terms.empty();
    // vector and hybrid search: which sides run
    check_vector_params(settings, p);
    plan.semantic_side = p.hybrid_embedder && p.vector && p.semantic_ratio > 0.0;
    plan.keyword_side = !plan.semantic_side || (p.semantic_ratio < 1.0 && !plan.placeholder);
    return plan;
}

// The hits a search keeps, in order, with how many there are and which documents they are.
struct Ranked {
    std::vector<Hit> hits;
    std::uint64_t total = 0;
    std::vector<std::uint32_t> matched;  // slots, ascending; only for facets or `report_slots`
};

// Keeps ranked hits: every one when distinct, a threshold or the semantic merge may drop
// some; else only the best `needed`, in a heap whose front is the worst of them, the others
// only counted.
class HitCollector {
  public:
    HitCollector(std::uint64_t needed, bool whole, bool keep_slots)
        : needed_(needed), whole_(whole), keep_slots_(keep_slots) {}

    void keep(Hit& h) {
        ++ranked_.total;
        if (keep_slots_) ranked_.matched.push_back(h.slot);
        auto& hits = ranked_.hits;
        if (whole_) {
            hits.push_back(std::move(h));
        } else if (hits.size() < needed_) {
            hits.push_back(h);
            std::push_heap(hits.begin(), hits.end(), hit_before);
        } else if (needed_ > 0 && hit_before(h, hits.front())) {
            std::pop_heap(hits.begin(), hits.end(), hit_before);
            hits.back() = h;
            std::push_heap(hits.begin(), hits.end(), hit_before);
        }
    }

    // The hits kept, in the bucket sort's order.
    Ranked finish() && {
        if (whole_) {
            std::sort(ranked_.hits.begin(), ranked_.hits.end(), hit_before);
        } else {
            std::sort_heap(ranked_.hits.begin(), ranked_.hits.end(), hit_before);
        }
        return std::move(ranked_);
    }

  private:
    const std::uint64_t needed_;
    const bool whole_;
    const bool keep_slots_;
    Ranked ranked_;
};

// The keyword side: every candidate the filter, `only_slots` and the matching strategy let
// through, ranked.
void collect_keyword_hits(const SearchPlan& plan, HitCollector& collector) {
    const KeywordMatcher matcher(plan);
    const Ranker ranker(plan, matcher);
    Candidate candidate{0, nullptr, std::vector<TermMatch>(plan.terms.size()), 0, {}};
    Hit scratch{0, nullptr, {}, {}, 1.0};
    const auto& only = plan.p.only_slots;
    for (const std::uint32_t slot : matcher.pool()) {
        const json& doc = *plan.index.slots[slot];
        if (!matches(plan.filter, doc)) continue;
        if (only && !std::binary_search(only->begin(), only->end(), slot)) continue;
        if (!matcher.match(slot, doc, candidate)) continue;
        ranker.rank(candidate, scratch);
        collector.keep(scratch);
    }
}

// Whether the keyword side fills the window with hits scoring at least 0.45 once weighted
// (`results_good_enough` in milli's hybrid.rs): the semantic side is skipped then.
bool keyword_side_good_enough(const std::vector<Hit>& hits, std::uint64_t needed, double ratio) {
    return hits.size() >= needed &&
           std::all_of(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(needed),
                       [ratio](const Hit& h) { return h.score * (1.0 - ratio) >= 0.45; });
}

// The semantic side: every document the filter lets through, by similarity to the query
// vector; a document without a vector comes last, with no similarity (score 0).
std::vector<Hit> semantic_hits(const SearchPlan& plan) {
    const SearchParams& p = plan.p;
    const auto& slots = plan.index.slots;
    std::vector<Hit> semantic;
    for (std::uint32_t slot = 0; slot < slots.size(); ++slot) {
        if (!slots[slot]) continue;
        const json& doc = *slots[slot];
        if (!matches(plan.filter, doc)) continue;
        double best = -1;
        for (const auto& v : document_vectors(doc, *p.hybrid_embedder)) {
            if (v.size() == p.vector->size()) best = std::max(best, similarity(v, *p.vector));
        }
        const bool none = best < 0;
        if (none) best = 0;
        Hit h{slot, &doc, {}, {}, best, true, best * p.semantic_ratio};
        RuleResult r;
        r.name = "vectorSort";
        r.local = best;
        Details details;
        if (none) {
            details.add_null("similarity");
        } else {
            details.add("similarity", best);
        }
        r.relevancy = false;  // no "score" field in its details
        h.rules.push_back(std::move(r));
        if (p.show_ranking_score_details) h.details.push_back(details);
        semantic.push_back(std::move(h));
    }
    std::stable_sort(semantic.begin(), semantic.end(),
                     [](const Hit& a, const Hit& b) { return a.score > b.score; });
    return semantic;
}

// The semantic side merged with the keyword side by weighted score: each document once, from
// the side where it weighs most.
void merge_semantic(const SearchPlan& plan, std::vector<Hit>& hits) {
    const double ratio = plan.p.semantic_ratio;
    for (auto& h : hits) h.weighted = h.score * (1.0 - ratio);
    std::vector<Hit> semantic = semantic_hits(plan);
    std::map<std::uint32_t, const Hit*> best_semantic;
    for (const auto& h : semantic) best_semantic.emplace(h.slot, &h);
    std::vector<Hit> merged;
    std::set<std::uint32_t> placed;
    for (auto& h : hits) {
        auto it = best_semantic.find(h.slot);
        if (it != best_semantic.end() && it->second->weighted > h.weighted) continue;
        placed.insert(h.slot);
        merged.push_back(std::move(h));
    }
    for (auto& h : semantic) {
        if (placed.insert(h.slot).second) merged.push_back(std::move(h));
    }
    // equal weights: the semantic hit first, as milli's merge takes the vector side
    std::stable_sort(merged.begin(), merged.end(), [](const Hit& a, const Hit& b) {
        if (a.weighted != b.weighted) return a.weighted > b.weighted;
        return a.semantic > b.semantic;
    });
    hits = std::move(merged);
}

// The distinct attribute: the parameter's (which must be filterable), else the index's.
std::optional<std::string> distinct_attribute(const json& settings, const SearchParams& p) {
    const auto distinct =
        p.distinct ? p.distinct
        : settings["distinctAttribute"].is_string()
            ? std::optional<std::string>(settings["distinctAttribute"].get<std::string>())
            : std::nullopt;
    if (p.distinct && !is_filterable(settings["filterableAttributes"], *distinct)) {
        throw search_error(
            "distinct", "Attribute `" + *distinct +
                            "` is not filterable and thus, cannot be used as distinct attribute. " +
                            "Available filterable attributes patterns are: " + backquoted_list([&] {
                                std::vector<std::string> n;
                                for (const auto& r : settings["filterableAttributes"])
                                    if (r.is_string()) n.push_back(r.get<std::string>());
                                std::sort(n.begin(), n.end());
                                return n;
                            }()) +
                            ".");
    }
    return distinct;
}

// Distinct: the first hit of each value of the attribute; hits without it are all kept.
void keep_first_of_each_value(std::vector<Hit>& hits, const std::string& distinct) {
    std::set<std::string> seen;
    std::erase_if(hits, [&](const Hit& h) {
        const auto values = field_values(*h.doc, distinct);
        if (values.empty()) return false;
        std::vector<std::string> keys;
        for (const json* v : values) {
            keys.push_back(v->is_string()   ? normalize(v->get<std::string>())
                           : v->is_number() ? number_key(v->get<double>())
                                            : v->dump());
        }
        for (const auto& key : keys) {
            if (seen.count(key)) return true;
        }
        for (auto& key : keys) seen.insert(key);
        return false;
    });
}

// The hits a request shows: `offset`/`limit`, or a page, within maxTotalHits.
struct Window {
    bool page_mode = false;
    std::uint64_t offset = 0, limit = 0;
};

Window window_of(const SearchParams& p, std::uint64_t max_total) {
    Window w{p.page || p.hits_per_page, p.offset, p.limit};
    if (w.page_mode) {
        const auto per_page = p.hits_per_page.value_or(20);
        const auto page = p.page.value_or(1);
        w.offset = page == 0 ? 0 : (page - 1) * per_page;
        w.limit = page == 0 ? 0 : per_page;
    }
    w.offset = std::min(w.offset, max_total);
    w.limit = std::min(w.limit, max_total - w.offset);
    return w;
}

// How long each step of a search took, as `performanceDetails` shows them.
struct Timings {
    using Clock = std::chrono::steady_clock;
    Clock::time_point started = Clock::now(), planned, ranked, counted;
};

json performance(const Timings& t) {
    const auto now = Timings::Clock::now();
    json out;
    out["search > evaluate query"] = miroir::util::debug_duration(t.planned - t.started);
    out["search > keyword ranking"] = miroir::util::debug_duration(t.ranked - t.planned);
    out["search > facet distribution"] = miroir::util::debug_duration(t.counted - t.ranked);
    out["search > format"] = miroir::util::debug_duration(now - t.counted);
    out["search"] = miroir::util::debug_duration(now - t.started);
    return out;
}

json response(const SearchPlan& plan, const Ranked& ranked, const FacetResult& facets,
              const Window& window, const Timings& timings) {
    const SearchParams& p = plan.p;
    const auto& hits = ranked.hits;
    json out_hits = json::array();
    for (std::size_t i = window.offset; i < hits.size() && out_hits.size() < window.limit; ++i) {
        out_hits.push_back(format_hit(plan, hits[i]));
    }
    json out;
    out["hits"] = std::move(out_hits);
    out["query"] = p.q;
    if (p.vector && p.retrieve_vectors) out["queryVector"] = *p.vector;
    out["processingTimeMs"] = 0;
    if (window.page_mode) {
        const auto per_page = p.hits_per_page.value_or(20);
        out["hitsPerPage"] = per_page;
        out["page"] = p.page.value_or(1);
        out["totalPages"] = per_page == 0 ? 0 : (ranked.total + per_page - 1) / per_page;
        out["totalHits"] = ranked.total;
    } else {
        out["limit"] = window.limit;
        out["offset"] = window.offset;
        out["estimatedTotalHits"] = ranked.total;
    }
    if (p.facets) {
        out["facetDistribution"] = facets.distribution;
        out["facetStats"] = facets.stats;
    }
    out["requestUid"] = new_uuid();
    if (p.show_performance_details) out["performanceDetails"] = performance(timings);
    if (plan.semantic_side) {
        std::uint64_t semantic_hits = 0;
        for (std::size_t i = window.offset; i < hits.size() && i < window.offset + window.limit;
             ++i) {
            semantic_hits += hits[i].semantic ? 1 : 0;
        }
        out["semanticHitCount"] = semantic_hits;
    }
    if (p.report_slots) out["_matched_slots"] = ranked.matched;
    return out;
}

}  // namespace

ApiError search_error(const std::string& param, const std::string& message) {
    return error(400, "invalid_search_" + param, message);
}

bool glob(std::string_view pattern, std::string_view s) {
    if (pattern == "*") return true;
    const auto star = pattern.find('*');
    if (star == std::string_view::npos) return pattern == s;
    return s.size() >= pattern.size() - 1 && s.starts_with(pattern.substr(0, star)) &&
           s.ends_with(pattern.substr(star + 1));
}

std::string number_key(double d) {
    if (std::floor(d) == d && std::abs(d) < 1e15) return std::to_string(static_cast<long long>(d));
    json j = d;
    return j.dump();
}

json run_search(const Index& index, const SearchParams& p) {
    Timings timings;
    const auto plan = plan_search(index, p);
    timings.planned = Timings::Clock::now();
    if (!plan) {
        auto every = p;
        every.attributes_to_search_on.reset();
        return run_search(index, every);
    }
    const auto& settings = index.settings;
    const auto max_total = settings["pagination"]["maxTotalHits"].get<std::uint64_t>();
    // rank the keyword side: only the requested window needs ranked hits, unless distinct,
    // a threshold or the semantic merge looks further
    const std::uint64_t needed = p.page || p.hits_per_page
                                     ? p.page.value_or(1) * p.hits_per_page.value_or(20)
                                     : std::min<std::uint64_t>(p.offset, max_total) + p.limit;
    const bool whole = plan->semantic_side || p.distinct || p.ranking_score_threshold ||
                       settings["distinctAttribute"].is_string();
    HitCollector collector(needed, whole, p.facets || p.report_slots);
    collect_keyword_hits(*plan, collector);
    Ranked ranked = std::move(collector).finish();
    // merge the semantic side, then drop what the threshold and distinct leave out
    if (plan->semantic_side && !keyword_side_good_enough(ranked.hits, needed, p.semantic_ratio)) {
        merge_semantic(*plan, ranked.hits);
    }
    if (p.ranking_score_threshold) {
        std::erase_if(ranked.hits,
                      [&](const Hit& h) { return h.score < *p.ranking_score_threshold; });
    }
    if (const auto distinct = distinct_attribute(settings, p)) {
        keep_first_of_each_value(ranked.hits, *distinct);
    }
    // every hit was kept when any of them could be dropped: count what remains
    if (whole) {
        ranked.total = ranked.hits.size();
        ranked.matched.clear();
        if (p.facets || p.report_slots) {
            for (const auto& h : ranked.hits) ranked.matched.push_back(h.slot);
            std::sort(ranked.matched.begin(), ranked.matched.end());
        }
    }
    timings.ranked = Timings::Clock::now();
    // facets over every remaining candidate, then the window
    const FacetResult facets = p.facets ? count_facets(*plan, ranked.matched) : FacetResult{};
    timings.counted = Timings::Clock::now();
    return response(*plan, ranked, facets, window_of(p, max_total), timings);
}

}  // namespace devnode
