// Search parameters from a JSON body or a query string, checked as Meilisearch checks them; and
// the documents' vectors for vector search.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "search_engine.hpp"

namespace devnode {

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

namespace {

// The search parameters of a POST body, in the order Meilisearch lists them in its errors.
const std::vector<std::string> kBodyParams = {"q",
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

// The parameters of a GET query string.
const std::vector<std::string_view> kQueryParams = {"q",
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
                                                    "vector"};

// One parameter's (non-null) value, read with Meilisearch's type errors
// (`invalid_search_<param>`).
class ParamValue {
  public:
    ParamValue(const std::string& key, const json& value) : key_(key), value_(value) {}
    const json& raw() const { return value_; }
    ApiError type_error(const char* expected) const {
        return search_error(snake_case(key_), "Invalid value type at `." + key_ + "`: expected " +
                                                  expected + ", but found " + found_value(value_));
    }
    std::uint64_t uint() const {
        if (!value_.is_number_unsigned()) throw type_error("a positive integer");
        return value_.get<std::uint64_t>();
    }
    bool boolean() const {
        if (!value_.is_boolean()) throw type_error("a boolean");
        return value_.get<bool>();
    }
    std::string string() const {
        if (!value_.is_string()) throw type_error("a string");
        return value_.get<std::string>();
    }
    std::vector<std::string> strings() const {
        if (!value_.is_array()) throw type_error("an array");
        std::vector<std::string> out;
        for (const auto& i : value_) {
            if (!i.is_string()) throw type_error("an array of strings");
            out.push_back(i.get<std::string>());
        }
        return out;
    }

  private:
    const std::string& key_;
    const json& value_;
};

std::string matching_strategy(const ParamValue& v) {
    const auto s = v.string();
    if (s != "last" && s != "all" && s != "frequency") {
        throw search_error("matching_strategy",
                           "Unknown value `" + s +
                               "` at `.matchingStrategy`: expected one of `last`, `all`, "
                               "`frequency`");
    }
    return s;
}

double ranking_score_threshold(const ParamValue& v) {
    const json& t = v.raw();
    if (!t.is_number() || t.get<double>() < 0.0 || t.get<double>() > 1.0) {
        throw search_error("ranking_score_threshold",
                           "Invalid value at `.rankingScoreThreshold`: the value of "
                           "`rankingScoreThreshold` is invalid, expected a float between "
                           "`0.0` and `1.0`.");
    }
    return t.get<double>();
}

std::vector<double> query_vector(const ParamValue& v) {
    if (!v.raw().is_array()) throw v.type_error("an array");
    std::vector<double> vec;
    for (const auto& x : v.raw()) {
        if (!x.is_number()) throw v.type_error("an array of numbers");
        vec.push_back(x.get<double>());
    }
    return vec;
}

// `hybrid`: the embedder (required) and the semantic ratio.
void read_hybrid(const ParamValue& value, SearchParams& p) {
    const json& v = value.raw();
    if (!v.is_object()) throw value.type_error("an object");
    for (auto h = v.begin(); h != v.end(); ++h) {
        if (h.key() != "embedder" && h.key() != "semanticRatio") {
            throw search_error("hybrid", "Unknown field `" + h.key() +
                                             "` inside `.hybrid`: expected one of "
                                             "`semanticRatio`, `embedder`");
        }
    }
    if (!v.contains("embedder") || !v["embedder"].is_string()) {
        throw error(400, "invalid_search_embedder", "Missing field `embedder` inside `.hybrid`");
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
}

using ParamReader = void (*)(const ParamValue&, SearchParams&);

// How each parameter is read; a known parameter missing here (`locales`, `personalize`) is
// accepted and ignored.
const std::map<std::string, ParamReader> kParamReaders = {
    {"q", [](const ParamValue& v, SearchParams& p) { p.q = v.string(); }},
    {"offset", [](const ParamValue& v, SearchParams& p) { p.offset = v.uint(); }},
    {"limit", [](const ParamValue& v, SearchParams& p) { p.limit = v.uint(); }},
    {"page", [](const ParamValue& v, SearchParams& p) { p.page = v.uint(); }},
    {"hitsPerPage", [](const ParamValue& v, SearchParams& p) { p.hits_per_page = v.uint(); }},
    {"attributesToRetrieve",
     [](const ParamValue& v, SearchParams& p) { p.attributes_to_retrieve = v.strings(); }},
    {"attributesToCrop",
     [](const ParamValue& v, SearchParams& p) { p.attributes_to_crop = v.strings(); }},
    {"cropLength", [](const ParamValue& v, SearchParams& p) { p.crop_length = v.uint(); }},
    {"attributesToHighlight",
     [](const ParamValue& v, SearchParams& p) { p.attributes_to_highlight = v.strings(); }},
    {"showMatchesPosition",
     [](const ParamValue& v, SearchParams& p) { p.show_matches_position = v.boolean(); }},
    {"showRankingScore",
     [](const ParamValue& v, SearchParams& p) { p.show_ranking_score = v.boolean(); }},
    {"showRankingScoreDetails",
     [](const ParamValue& v, SearchParams& p) { p.show_ranking_score_details = v.boolean(); }},
    {"retrieveVectors",
     [](const ParamValue& v, SearchParams& p) { p.retrieve_vectors = v.boolean(); }},
    {"showPerformanceDetails",
     [](const ParamValue& v, SearchParams& p) { p.show_performance_details = v.boolean(); }},
    // checked, without effect here
    {"useNetwork", [](const ParamValue& v, SearchParams&) { v.boolean(); }},
    {"filter", [](const ParamValue& v, SearchParams& p) { p.filter = v.raw(); }},
    {"sort", [](const ParamValue& v, SearchParams& p) { p.sort = v.strings(); }},
    {"distinct", [](const ParamValue& v, SearchParams& p) { p.distinct = v.string(); }},
    {"facets", [](const ParamValue& v, SearchParams& p) { p.facets = v.strings(); }},
    {"highlightPreTag", [](const ParamValue& v, SearchParams& p) { p.highlight_pre = v.string(); }},
    {"highlightPostTag",
     [](const ParamValue& v, SearchParams& p) { p.highlight_post = v.string(); }},
    {"cropMarker", [](const ParamValue& v, SearchParams& p) { p.crop_marker = v.string(); }},
    {"attributesToSearchOn",
     [](const ParamValue& v, SearchParams& p) { p.attributes_to_search_on = v.strings(); }},
    {"matchingStrategy",
     [](const ParamValue& v, SearchParams& p) { p.matching_strategy = matching_strategy(v); }},
    {"rankingScoreThreshold",
     [](const ParamValue& v, SearchParams& p) {
         p.ranking_score_threshold = ranking_score_threshold(v);
     }},
    {"vector", [](const ParamValue& v, SearchParams& p) { p.vector = query_vector(v); }},
    {"hybrid", read_hybrid},
    {"media",
     [](const ParamValue&, SearchParams&) {
         throw error(400, "invalid_search_media",
                     "Multimodal search is not supported by this development node.");
     }},
};

// A float of a query string, or Meilisearch's `invalid_search_<code>` error naming `name`.
double query_float(const std::string& text, const char* name, const char* code) {
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) {
        throw search_error(code, std::string("Invalid value in parameter `") + name +
                                     "`: could not parse `" + text + "` as a float");
    }
    return d;
}

// The query string's plain parameters (strings, integers, booleans and lists) as body fields.
void add_plain_params(const Query& q, json& body) {
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
}

// `filter`: JSON (an array or a string) when it parses as such, else the expression as given.
void add_filter_param(const Query& q, json& body) {
    auto f = q.get("filter");
    if (!f) return;
    try {
        body["filter"] = json::parse(*f);
        if (!body["filter"].is_array() && !body["filter"].is_string()) body["filter"] = *f;
    } catch (const json::parse_error&) {
        body["filter"] = *f;
    }
}

// `hybridEmbedder` and `hybridSemanticRatio` as `hybrid`; `vector` as comma-separated floats.
void add_vector_params(const Query& q, json& body) {
    if (auto e = q.get("hybridEmbedder")) {
        json hybrid{{"embedder", *e}};
        if (auto r = q.get("hybridSemanticRatio")) {
            hybrid["semanticRatio"] = query_float(*r, "hybridSemanticRatio", "semantic_ratio");
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
}

}  // namespace

SearchParams search_params_from_json(const json& body) {
    if (!body.is_object())
        throw bad_request("Invalid value type: expected an object, but found " + found_value(body));
    SearchParams p;
    for (auto it = body.begin(); it != body.end(); ++it) {
        const auto& k = it.key();
        if (std::find(kBodyParams.begin(), kBodyParams.end(), k) == kBodyParams.end()) {
            throw bad_request("Unknown field `" + k + "`: expected one of " +
                              backquoted_list(kBodyParams));
        }
        if (it.value().is_null()) continue;
        if (auto reader = kParamReaders.find(k); reader != kParamReaders.end()) {
            reader->second(ParamValue(k, it.value()), p);
        }
    }
    return p;
}

SearchParams search_params_from_query(const std::string& raw_query) {
    Query q(raw_query, kQueryParams);
    json body = json::object();
    add_plain_params(q, body);
    add_filter_param(q, body);
    add_vector_params(q, body);
    if (auto t = q.get("rankingScoreThreshold")) {
        body["rankingScoreThreshold"] =
            query_float(*t, "rankingScoreThreshold", "ranking_score_threshold");
    }
    return search_params_from_json(body);
}

}  // namespace devnode
