// The typo maximum of the whole index, from the nodes' answers (see merge/typo.hpp).
//
// Meilisearch's `_rankingScore` folds the ranks of the relevancy rules in their order
// (`Rank::global_score` in milli's score_details.rs), so the score of the rules from `typo`
// on can be solved from the node's score and the ranks before it, and folded again with the
// whole index's typo rank:
//   s = (rw - 1) / mw + s_typo / mw          (words: rw = matching, mw = max matching)
//   s_typo = (rt - 1) / mt + tail / mt        (typo: mt = maxTypoCount + 1, rt = mt - typos)
#include <algorithm>
#include <map>

#include <miroir/merge/typo.hpp>

namespace miroir::merge {

using json = nlohmann::ordered_json;

namespace {

double number_at(const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

const json* rule(const json& hit, const char* name) {
    const auto details = hit.find("_rankingScoreDetails");
    if (details == hit.end() || !details->is_object()) return nullptr;
    const auto it = details->find(name);
    return it == details->end() || !it->is_object() ? nullptr : &*it;
}

// The typo graph's words: the `words` rule's matching words, or -1 without that rule.
int bucket_of(const json& hit) {
    const json* words = rule(hit, "words");
    return words ? static_cast<int>(number_at(*words, "matchingWords")) : -1;
}

// Whether `words` is the only relevancy rule before `typo` (sort rules do not score).
bool words_only_before_typo(const json& details, double typo_order) {
    for (auto it = details.begin(); it != details.end(); ++it) {
        if (!it->is_object() || number_at(*it, "order") >= typo_order) continue;
        const auto& name = it.key();
        const bool sort = name.ends_with(":asc") || name.ends_with(":desc");
        if (name != "words" && !sort) return false;
    }
    return true;
}

void rescore(json& hit, double whole_max) {
    auto& details = hit["_rankingScoreDetails"];
    auto& typo = details["typo"];
    const double typos = number_at(typo, "typoCount");
    const double node_mt = number_at(typo, "maxTypoCount") + 1;
    const double whole_mt = whole_max + 1;
    typo["maxTypoCount"] = static_cast<std::uint64_t>(whole_max);
    typo["score"] = (whole_mt - typos) / whole_mt;
    const auto score = hit.find("_rankingScore");
    if (score == hit.end() || !score->is_number()) return;
    if (!words_only_before_typo(details, number_at(typo, "order"))) return;
    double rw = 1, mw = 1;
    if (const json* words = rule(hit, "words")) {
        rw = number_at(*words, "matchingWords");
        mw = std::max(1.0, number_at(*words, "maxMatchingWords"));
    }
    // the node's score from the typo rule on, then what follows the typo rule
    const double node_typo_on = score->get<double>() * mw - (rw - 1);
    const double tail = node_typo_on * node_mt - (node_mt - typos - 1);
    const double whole_typo_on = fold_rank(whole_mt - typos, whole_mt, tail);
    *score = std::clamp(fold_rank(rw, mw, whole_typo_on), 0.0, 1.0);
}

}  // namespace

double fold_rank(double rank, double max_rank, double rest) {
    return (rank - 1) / max_rank + rest / max_rank;
}

void normalize_typo(const std::vector<json*>& lists) {
    std::map<int, double> whole_max;  // by matching words
    for (const json* hits : lists) {
        if (!hits || !hits->is_array()) continue;
        for (const auto& hit : *hits) {
            const json* typo = rule(hit, "typo");
            if (!typo) continue;
            auto& m = whole_max[bucket_of(hit)];
            m = std::max(m, number_at(*typo, "maxTypoCount"));
        }
    }
    for (json* hits : lists) {
        if (!hits || !hits->is_array()) continue;
        for (auto& hit : *hits) {
            const json* typo = rule(hit, "typo");
            if (!typo) continue;
            const double m = whole_max[bucket_of(hit)];
            if (number_at(*typo, "maxTypoCount") < m) rescore(hit, m);
        }
    }
}

}  // namespace miroir::merge
