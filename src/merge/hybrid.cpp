// Hybrid search's merge of the keyword and the semantic side (see merge/hybrid.hpp).
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include <miroir/merge/hybrid.hpp>

namespace miroir::merge {

using json = nlohmann::ordered_json;

namespace {

const json& hit_at(const std::vector<const json*>& lists,
                   const std::pair<std::size_t, std::size_t>& at) {
    return (*lists[at.first])[at.second];
}

double score_of(const json& hit) {
    const auto it = hit.find("_rankingScore");
    return it != hit.end() && it->is_number() ? it->get<double>() : 0.0;
}

// A keyword hit still has values to compare after its first relevancy score: a sort rule.
bool has_sort_values(const json& hit) {
    const auto details = hit.find("_rankingScoreDetails");
    if (details == hit.end() || !details->is_object()) return false;
    for (auto it = details->begin(); it != details->end(); ++it) {
        const auto& name = it.key();
        if (name.ends_with(":asc") || name.ends_with(":desc")) return true;
    }
    return false;
}

// A keyword hit whose first ranking value is a sort value (a placeholder search with `sort`):
// milli puts any semantic hit with a similarity before it.
bool sort_first(const json& hit) {
    const auto details = hit.find("_rankingScoreDetails");
    if (details == hit.end() || !details->is_object()) return false;
    for (auto it = details->begin(); it != details->end(); ++it) {
        const auto order = it->find("order");
        if (order == it->end() || *order != 0) continue;
        return it.key().ends_with(":asc") || it.key().ends_with(":desc");
    }
    return false;
}

// The ratios as milli computes them: f32, the keyword one as 1 - ratio in f32.
std::pair<double, double> weights(double ratio) {
    const float semantic = static_cast<float>(ratio);
    return {static_cast<double>(semantic), static_cast<double>(1.0f - semantic)};
}

}  // namespace

bool keyword_good_enough(const std::vector<const json*>& lists, const Order& keyword,
                         std::uint64_t depth, double ratio) {
    if (keyword.size() < depth) return false;
    const double weight = weights(ratio).second;
    for (std::uint64_t i = 0; i < depth; ++i) {
        if (score_of(hit_at(lists, keyword[i])) * weight < 0.45) return false;
    }
    return true;
}

Order merge_hybrid(const std::vector<const json*>& lists, const Order& semantic,
                   const Order& keyword, double ratio, std::string_view id_field) {
    const auto [semantic_weight, keyword_weight] = weights(ratio);
    Order out;
    out.reserve(semantic.size() + keyword.size());
    std::set<std::string> seen;
    auto take = [&](const std::pair<std::size_t, std::size_t>& at) {
        const json& hit = hit_at(lists, at);
        const auto id = hit.find(std::string(id_field));
        if (id_field.empty() || id == hit.end() || seen.insert(id->dump()).second) {
            out.push_back(at);
        }
    };
    std::size_t s = 0, k = 0;
    while (s < semantic.size() || k < keyword.size()) {
        if (k == keyword.size()) {
            take(semantic[s++]);
            continue;
        }
        if (s == semantic.size()) {
            take(keyword[k++]);
            continue;
        }
        const json& left = hit_at(lists, semantic[s]);
        const json& right = hit_at(lists, keyword[k]);
        const double l = score_of(left) * semantic_weight;
        const double r = score_of(right) * keyword_weight;
        bool semantic_first = l > r;
        if (sort_first(right)) {
            semantic_first = score_of(left) != 0.0;
        } else if (std::fabs(l - r) <= std::numeric_limits<double>::epsilon()) {
            semantic_first = !has_sort_values(right);
        }
        if (semantic_first) {
            take(semantic[s++]);
        } else {
            take(keyword[k++]);
        }
    }
    return out;
}

}  // namespace miroir::merge
