// Hits as the response shows them: the displayed and retrieved fields, `_formatted` (cropped
// and highlighted), `_matchesPosition`, vectors, scores, ranking details, and the values
// federated multi-search merges by.
#include <algorithm>

#include "search_engine.hpp"

namespace devnode {

namespace {

bool is_word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

// Highlights the matched words of a text.
std::string highlight(const std::string& text, const std::vector<Term>& terms,
                      const SearchParams& p,
                      std::vector<std::pair<std::size_t, std::size_t>>* spans) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (!is_word_byte(static_cast<unsigned char>(text[i]))) {
            out += text[i++];
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && is_word_byte(static_cast<unsigned char>(text[j]))) ++j;
        const auto word = text.substr(i, j - i);
        const auto norm = fold_word(word);
        bool hit = false;
        std::size_t len = word.size();
        for (const auto& t : terms) {
            if (match_word(t, norm) >= 0) {
                hit = true;
                if (t.prefix && norm.starts_with(t.word) && norm != t.word) len = t.word.size();
                break;
            }
        }
        if (hit) {
            if (spans) spans->emplace_back(i, len);
            out += p.highlight_pre + word.substr(0, len) + p.highlight_post + word.substr(len);
        } else {
            out += word;
        }
        i = j;
    }
    return out;
}

std::string crop(const std::string& text, const std::vector<Term>& terms, std::uint64_t length,
                 const std::string& marker) {
    // words with their byte ranges
    std::vector<std::pair<std::size_t, std::size_t>> words;
    for (std::size_t i = 0; i < text.size();) {
        if (!is_word_byte(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && is_word_byte(static_cast<unsigned char>(text[j]))) ++j;
        words.emplace_back(i, j);
        i = j;
    }
    if (words.size() <= length) return text;
    std::size_t first = 0;
    for (std::size_t w = 0; w < words.size(); ++w) {
        const auto norm = fold_word(text.substr(words[w].first, words[w].second - words[w].first));
        if (std::any_of(terms.begin(), terms.end(),
                        [&](const Term& t) { return match_word(t, norm) >= 0; })) {
            first = w;
            break;
        }
    }
    const std::size_t start = std::min(first, words.size() - length);
    const std::size_t end = start + length - 1;
    std::string out;
    if (start > 0) out += marker;
    out += text.substr(words[start].first, words[end].second - words[start].first);
    if (end + 1 < words.size()) out += marker;
    return out;
}

// Whether a list of attributes (`attributesToHighlight`, `attributesToCrop`; a crop entry may
// end in `:length`) names a field.
bool listed(const std::vector<std::string>& list, const std::string& field) {
    return std::any_of(list.begin(), list.end(),
                       [&](const std::string& a) { return glob(a.substr(0, a.find(':')), field); });
}

bool displayed_field(const json& displayed, const std::string& field) {
    return std::any_of(displayed.begin(), displayed.end(),
                       [&](const json& d) { return glob(d.get<std::string>(), field); });
}

// Displayed, and retrieved when `attributesToRetrieve` is given.
bool visible(const SearchParams& p, const json& displayed, const std::string& field) {
    if (!displayed_field(displayed, field)) return false;
    if (!p.attributes_to_retrieve) return true;
    return std::any_of(p.attributes_to_retrieve->begin(), p.attributes_to_retrieve->end(),
                       [&](const std::string& a) { return glob(a, field); });
}

// `_formatted` and `_matchesPosition` of the fields `shown`, as the parameters ask.
void add_formatted(const SearchPlan& plan, const json& shown, json& hit) {
    const SearchParams& p = plan.p;
    const auto& terms = plan.terms;
    const bool format = !p.attributes_to_highlight.empty() || !p.attributes_to_crop.empty();
    if (!format && !p.show_matches_position) return;
    json formatted = json::object();
    json positions = json::object();
    for (auto it = shown.begin(); it != shown.end(); ++it) {
        if (it.value().is_string()) {
            std::string text = it.value().get<std::string>();
            std::vector<std::pair<std::size_t, std::size_t>> spans;
            if (listed(p.attributes_to_crop, it.key()))
                text = crop(text, terms, p.crop_length, p.crop_marker);
            const std::string highlighted = highlight(text, terms, p, &spans);
            if (listed(p.attributes_to_highlight, it.key())) text = highlighted;
            formatted[it.key()] = text;
            if (p.show_matches_position && !spans.empty()) {
                // positions in the original text, not in the cropped one
                std::vector<std::pair<std::size_t, std::size_t>> raw;
                highlight(it.value().get<std::string>(), terms, p, &raw);
                json list = json::array();
                for (const auto& [start, len] : raw)
                    list.push_back(json{{"start", start}, {"length", len}});
                positions[it.key()] = list;
            }
        } else if (it.value().is_number()) {
            formatted[it.key()] = it.value().dump();
        } else {
            formatted[it.key()] = it.value();
        }
    }
    if (format) hit["_formatted"] = formatted;
    if (p.show_matches_position) hit["_matchesPosition"] = positions;
}

json ranking_details(const Hit& h) {
    json details = json::object();
    int order = 0;
    for (std::size_t ri = 0; ri < h.rules.size(); ++ri) {
        const auto& r = h.rules[ri];
        json d;
        d["order"] = order++;
        for (std::size_t di = 0; di < h.details[ri].size; ++di) {
            const auto& item = h.details[ri].items[di];
            using Type = Details::Item::Type;
            if (item.type == Type::count) d[item.key] = item.count;
            if (item.type == Type::real) d[item.key] = item.real;
            if (item.type == Type::text) d[item.key] = item.text;
            if (item.type == Type::null) d[item.key] = nullptr;
        }
        if (r.relevancy) d["score"] = r.local;
        if (!r.relevancy && r.name != "vectorSort") d["value"] = sort_value_json(r);
        details[std::string(r.name)] = d;
    }
    return details;
}

// The hit's ranking as Meilisearch's federated merge compares it: consecutive relevancy rules
// fold into one score (their ranks, lexicographically); sort rules keep their values; vector
// similarity stays a score.
json federation_values(const Hit& h) {
    json values = json::array();
    long double rank = 1, max = 1;
    bool open = false;
    auto flush = [&] {
        if (open) values.push_back(json{{"score", static_cast<double>(rank / max)}});
        rank = max = 1;
        open = false;
    };
    for (const auto& r : h.rules) {
        if (r.relevancy) {
            rank = (rank - 1) * static_cast<long double>(r.max) + static_cast<long double>(r.rank);
            max *= static_cast<long double>(r.max);
            open = true;
        } else if (r.name == "vectorSort") {
            flush();
            values.push_back(json{{"vector", r.local}});
        } else {
            flush();
            values.push_back(json{{"sort", json{{"asc", r.asc}, {"value", sort_value_json(r)}}}});
        }
    }
    flush();
    return values;
}

}  // namespace

json format_hit(const SearchPlan& plan, const Hit& h) {
    const SearchParams& p = plan.p;
    const auto& displayed = plan.index.settings["displayedAttributes"];
    json hit = json::object();
    // _formatted also shows the attributes to highlight or crop that are displayed
    json shown = json::object();
    for (auto it = h.doc->begin(); it != h.doc->end(); ++it) {
        if (it.key() == "_vectors") continue;
        if (visible(p, displayed, it.key())) {
            hit[it.key()] = it.value();
            shown[it.key()] = it.value();
        } else if ((listed(p.attributes_to_highlight, it.key()) ||
                    listed(p.attributes_to_crop, it.key())) &&
                   displayed_field(displayed, it.key())) {
            shown[it.key()] = it.value();
        }
    }
    add_formatted(plan, shown, hit);
    if (p.retrieve_vectors) hit["_vectors"] = shown_vectors(*h.doc);
    if (p.show_ranking_score) hit["_rankingScore"] = h.score;
    if (p.show_ranking_score_details) hit["_rankingScoreDetails"] = ranking_details(h);
    if (p.federation) {
        hit["_federation_values"] = federation_values(h);
        hit["_federation_slot"] = h.slot;
        hit["_federation_score"] = h.score;
    }
    return hit;
}

}  // namespace devnode
