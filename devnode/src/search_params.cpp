// Search parameters from a JSON body or a query string, checked as Meilisearch checks them; and
// the documents' vectors for vector search.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "search.hpp"

namespace devnode {

namespace {

ApiError search_error(const std::string& param, const std::string& message) {
    return error(400, "invalid_search_" + param, message);
}

}  // namespace

std::vector<std::vector<double>> document_vectors(const json& doc, const std::string& embedder) {
    std::vector<std::vector<double>> out;
    auto vectors = doc.find("_vectors");
    if (vectors == doc.end() || !vectors->is_object()) return out;
    auto it = vectors->find(embedder);
    if (it == vectors->end()) return out;
    json value = *it;
    if (value.is_object()) value = value.value("embeddings", json(nullptr));
    if (!value.is_array() || value.empty()) return out;
    auto numbers = [](const json& a) {
        std::vector<double> v;
        for (const auto& x : a) {
            if (!x.is_number()) return std::vector<double>{};
            v.push_back(x.get<double>());
        }
        return v;
    };
    if (value[0].is_array()) {
        for (const auto& e : value) out.push_back(numbers(e));
    } else {
        out.push_back(numbers(value));
    }
    std::erase_if(out, [](const auto& v) { return v.empty(); });
    return out;
}

double similarity(const std::vector<double>& a, const std::vector<double>& b) {
    double dot = 0, na = 0, nb = 0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        dot += a[i] * b[i];
        na += a[i] * a[i];
        nb += b[i] * b[i];
    }
    if (na == 0 || nb == 0) return 0;
    return (1.0 + dot / (std::sqrt(na) * std::sqrt(nb))) / 2.0;
}

json shown_vectors(const json& doc) {
    json out = json::object();
    auto vectors = doc.find("_vectors");
    if (vectors == doc.end() || !vectors->is_object()) return out;
    for (auto it = vectors->begin(); it != vectors->end(); ++it) {
        json embeddings = json::array();
        for (const auto& v : document_vectors(doc, it.key())) embeddings.push_back(v);
        out[it.key()] = json{{"embeddings", embeddings}, {"regenerate", false}};
    }
    return out;
}

SearchParams search_params_from_json(const json& body) {
    if (!body.is_object())
        throw bad_request("Invalid value type: expected an object, but found " + found_value(body));
    static const std::vector<std::string> kKnown = {"q",
                                                    "vector",
                                                    "media",
                                                    "hybrid",
                                                    "offset",
                                                    "limit",
                                                    "page",
                                                    "hitsPerPage",
                                                    "attributesToRetrieve",
                                                    "retrieveVectors",
                                                    "attributesToCrop",
                                                    "cropLength",
                                                    "attributesToHighlight",
                                                    "showMatchesPosition",
                                                    "showRankingScore",
                                                    "showRankingScoreDetails",
                                                    "showPerformanceDetails",
                                                    "filter",
                                                    "sort",
                                                    "distinct",
                                                    "facets",
                                                    "highlightPreTag",
                                                    "highlightPostTag",
                                                    "cropMarker",
                                                    "matchingStrategy",
                                                    "attributesToSearchOn",
                                                    "rankingScoreThreshold",
                                                    "locales",
                                                    "personalize",
                                                    "useNetwork"};
    SearchParams p;
    for (auto it = body.begin(); it != body.end(); ++it) {
        const auto& k = it.key();
        const auto& v = it.value();
        if (std::find(kKnown.begin(), kKnown.end(), k) == kKnown.end()) {
            throw bad_request("Unknown field `" + k + "`: expected one of " +
                              backquoted_list(kKnown));
        }
        if (v.is_null()) continue;
        const std::string code = snake_case(k == "q" ? "q" : k);
        auto type_error = [&](const char* expected) {
            return search_error(code, "Invalid value type at `." + k + "`: expected " + expected +
                                          ", but found " + found_value(v));
        };
        auto uint_value = [&]() {
            if (!v.is_number_unsigned()) throw type_error("a positive integer");
            return v.get<std::uint64_t>();
        };
        auto bool_value = [&]() {
            if (!v.is_boolean()) throw type_error("a boolean");
            return v.get<bool>();
        };
        auto string_value = [&]() {
            if (!v.is_string()) throw type_error("a string");
            return v.get<std::string>();
        };
        auto strings_value = [&]() {
            if (!v.is_array()) throw type_error("an array");
            std::vector<std::string> out;
            for (const auto& i : v) {
                if (!i.is_string()) throw type_error("an array of strings");
                out.push_back(i.get<std::string>());
            }
            return out;
        };
        if (k == "q")
            p.q = string_value();
        else if (k == "offset")
            p.offset = uint_value();
        else if (k == "limit")
            p.limit = uint_value();
        else if (k == "page")
            p.page = uint_value();
        else if (k == "hitsPerPage")
            p.hits_per_page = uint_value();
        else if (k == "attributesToRetrieve")
            p.attributes_to_retrieve = strings_value();
        else if (k == "attributesToCrop")
            p.attributes_to_crop = strings_value();
        else if (k == "cropLength")
            p.crop_length = uint_value();
        else if (k == "attributesToHighlight")
            p.attributes_to_highlight = strings_value();
        else if (k == "showMatchesPosition")
            p.show_matches_position = bool_value();
        else if (k == "showRankingScore")
            p.show_ranking_score = bool_value();
        else if (k == "showRankingScoreDetails")
            p.show_ranking_score_details = bool_value();
        else if (k == "retrieveVectors")
            p.retrieve_vectors = bool_value();
        else if (k == "showPerformanceDetails" || k == "useNetwork")
            bool_value();
        else if (k == "filter")
            p.filter = v;
        else if (k == "sort")
            p.sort = strings_value();
        else if (k == "distinct")
            p.distinct = string_value();
        else if (k == "facets")
            p.facets = strings_value();
        else if (k == "highlightPreTag")
            p.highlight_pre = string_value();
        else if (k == "highlightPostTag")
            p.highlight_post = string_value();
        else if (k == "cropMarker")
            p.crop_marker = string_value();
        else if (k == "attributesToSearchOn")
            p.attributes_to_search_on = strings_value();
        else if (k == "matchingStrategy") {
            const auto s = string_value();
            if (s != "last" && s != "all" && s != "frequency") {
                throw search_error(
                    "matching_strategy",
                    "Unknown value `" + s +
                        "` at `.matchingStrategy`: expected one of `last`, `all`, `frequency`");
            }
            p.matching_strategy = s;
        } else if (k == "rankingScoreThreshold") {
            if (!v.is_number() || v.get<double>() < 0.0 || v.get<double>() > 1.0) {
                throw search_error("ranking_score_threshold",
                                   "Invalid value at `.rankingScoreThreshold`: the value of "
                                   "`rankingScoreThreshold` is invalid, expected a float between "
                                   "`0.0` and `1.0`.");
            }
            p.ranking_score_threshold = v.get<double>();
        } else if (k == "vector") {
            if (!v.is_array()) throw type_error("an array");
            std::vector<double> vec;
            for (const auto& x : v) {
                if (!x.is_number()) throw type_error("an array of numbers");
                vec.push_back(x.get<double>());
            }
            p.vector = std::move(vec);
        } else if (k == "hybrid") {
            if (!v.is_object()) throw type_error("an object");
            for (auto h = v.begin(); h != v.end(); ++h) {
                if (h.key() != "embedder" && h.key() != "semanticRatio") {
                    throw search_error("hybrid", "Unknown field `" + h.key() +
                                                     "` inside `.hybrid`: expected one of "
                                                     "`semanticRatio`, `embedder`");
                }
            }
            if (!v.contains("embedder") || !v["embedder"].is_string()) {
                throw error(400, "invalid_search_embedder",
                            "Missing field `embedder` inside `.hybrid`");
            }
            p.hybrid_embedder = v["embedder"].get<std::string>();
            if (v.contains("semanticRatio")) {
                const auto& r = v["semanticRatio"];
                if (!r.is_number() || r.get<double>() < 0 || r.get<double>() > 1) {
                    throw search_error("semantic_ratio",
                                       "Invalid value at `.hybrid.semanticRatio`: the value of "
                                       "`semanticRatio` is invalid, expected a float between "
                                       "`0.0` and `1.0`.");
                }
                p.semantic_ratio = r.get<double>();
            }
        } else if (k == "media") {
            throw error(400, "invalid_search_media",
                        "Multimodal search is not supported by this development node.");
        }
    }
    return p;
}

SearchParams search_params_from_query(const std::string& raw_query) {
    Query q(raw_query, {"q",
                        "offset",
                        "limit",
                        "page",
                        "hitsPerPage",
                        "attributesToRetrieve",
                        "retrieveVectors",
                        "attributesToCrop",
                        "cropLength",
                        "attributesToHighlight",
                        "showMatchesPosition",
                        "showRankingScore",
                        "showRankingScoreDetails",
                        "showPerformanceDetails",
                        "filter",
                        "sort",
                        "distinct",
                        "facets",
                        "highlightPreTag",
                        "highlightPostTag",
                        "cropMarker",
                        "matchingStrategy",
                        "attributesToSearchOn",
                        "hybridEmbedder",
                        "hybridSemanticRatio",
                        "rankingScoreThreshold",
                        "locales",
                        "vector"});
    json body = json::object();
    auto uint_param = [&](const char* name) {
        if (auto v = q.get_uint(name, "invalid_search_" + snake_case(name))) body[name] = *v;
    };
    auto bool_param = [&](const char* name) {
        if (auto v = q.get_bool(name, "invalid_search_" + snake_case(name))) body[name] = *v;
    };
    auto list_param = [&](const char* name) {
        if (auto v = q.get(name)) body[name] = split_csv(*v);
    };
    auto string_param = [&](const char* name) {
        if (auto v = q.get(name)) body[name] = *v;
    };
    string_param("q");
    for (const char* n : {"offset", "limit", "page", "hitsPerPage", "cropLength"}) uint_param(n);
    for (const char* n : {"showMatchesPosition", "showRankingScore", "showRankingScoreDetails",
                          "showPerformanceDetails", "retrieveVectors"}) {
        bool_param(n);
    }
    for (const char* n : {"attributesToRetrieve", "attributesToCrop", "attributesToHighlight",
                          "sort", "facets", "attributesToSearchOn"}) {
        list_param(n);
    }
    for (const char* n :
         {"distinct", "highlightPreTag", "highlightPostTag", "cropMarker", "matchingStrategy"}) {
        string_param(n);
    }
    if (auto f = q.get("filter")) {
        try {
            body["filter"] = json::parse(*f);
            if (!body["filter"].is_array() && !body["filter"].is_string()) body["filter"] = *f;
        } catch (const json::parse_error&) {
            body["filter"] = *f;
        }
    }
    if (auto e = q.get("hybridEmbedder")) {
        json hybrid{{"embedder", *e}};
        if (auto r = q.get("hybridSemanticRatio")) {
            char* end = nullptr;
            const double d = std::strtod(r->c_str(), &end);
            if (end != r->c_str() + r->size()) {
                throw search_error(
                    "semantic_ratio",
                    "Invalid value in parameter `hybridSemanticRatio`: could not parse `" + *r +
                        "` as a float");
            }
            hybrid["semanticRatio"] = d;
        }
        body["hybrid"] = hybrid;
    }
    if (auto v = q.get("vector")) {
        json vec = json::array();
        for (const auto& part : split_csv(*v)) {
            char* end = nullptr;
            const double d = std::strtod(part.c_str(), &end);
            if (part.empty() || end != part.c_str() + part.size()) {
                throw search_error("vector",
                                   "Invalid value in parameter `vector`: could not parse `" + part +
                                       "` as a float");
            }
            vec.push_back(d);
        }
        body["vector"] = vec;
    }
    if (auto t = q.get("rankingScoreThreshold")) {
        char* end = nullptr;
        const double d = std::strtod(t->c_str(), &end);
        if (end != t->c_str() + t->size()) {
            throw search_error(
                "ranking_score_threshold",
                "Invalid value in parameter `rankingScoreThreshold`: could not parse `" + *t +
                    "` as a float");
        }
        body["rankingScoreThreshold"] = d;
    }
    return search_params_from_json(body);
}

}  // namespace devnode
