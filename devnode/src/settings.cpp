// Settings: GET/PATCH/DELETE on /settings and every sub-route, validated synchronously and
// applied as settingsUpdate tasks.
#include <algorithm>
#include <set>

#include <miroir/http/settings_routes.hpp>

#include "node.hpp"

namespace devnode {

namespace http = miroir::http;
using http::Method;

namespace {

class Checker {
  public:
    explicit Checker(std::string key)
        : key_(std::move(key)),
          code_(key_ == "chat" ? "invalid_settings_index_chat"
                               : "invalid_settings_" + snake_case(key_)) {}

    ApiError type_error(const std::string& at, const char* expected, const json& v) const {
        return error(400, code_,
                     "Invalid value type at `." + at + "`: expected " + expected + ", but found " +
                         found_value(v));
    }
    ApiError value_error(const std::string& at, const std::string& why) const {
        return error(400, code_, "Invalid value at `." + at + "`: " + why);
    }
    void strings(const json& v, const std::string& at) const {
        if (!v.is_array()) throw type_error(at, "an array", v);
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (!v[i].is_string()) {
                throw type_error(at + "[" + std::to_string(i) + "]", "a string", v[i]);
            }
        }
    }
    void uint(const json& v, const std::string& at) const {
        if (!v.is_number_unsigned()) throw type_error(at, "a positive integer", v);
    }
    void boolean(const json& v, const std::string& at) const {
        if (!v.is_boolean()) throw type_error(at, "a boolean", v);
    }
    void one_of(const json& v, const std::string& at, std::vector<std::string> values) const {
        if (!v.is_string()) throw type_error(at, "a string", v);
        if (std::find(values.begin(), values.end(), v.get<std::string>()) == values.end()) {
            throw error(400, code_,
                        "Unknown value `" + v.get<std::string>() + "` at `." + at +
                            "`: expected one of " + backquoted_list(values));
        }
    }
    void fields(const json& v, const std::string& at, std::vector<std::string> known) const {
        if (!v.is_object()) throw type_error(at, "an object", v);
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
                throw error(400, code_,
                            "Unknown field `" + it.key() + "` inside `." + at +
                                "`: expected one of " + backquoted_list(known));
            }
        }
    }

  private:
    std::string key_;
    std::string code_;
};

bool valid_ranking_rule(const std::string& rule) {
    static const std::set<std::string> kBuiltin = {"words",         "typo",        "proximity",
                                                   "attribute",     "sort",        "exactness",
                                                   "attributeRank", "wordPosition"};
    if (kBuiltin.count(rule)) return true;
    for (const char* suffix : {":asc", ":desc"}) {
        if (rule.ends_with(suffix) && rule.size() > std::strlen(suffix)) {
            const auto field = rule.substr(0, rule.size() - std::strlen(suffix));
            return field.find(' ') == std::string::npos && field.find(':') == std::string::npos;
        }
    }
    return false;
}

void check_filterable_attributes(const Checker& c, const std::string& key, const json& v) {
    if (!v.is_array()) throw c.type_error(key, "an array", v);
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto at = key + "[" + std::to_string(i) + "]";
        if (v[i].is_string()) continue;
        c.fields(v[i], at, {"attributePatterns", "features"});
        if (!v[i].contains("attributePatterns")) {
            throw error(400, "invalid_settings_filterable_attributes",
                        "Missing field `attributePatterns` inside `." + at + "`");
        }
        c.strings(v[i]["attributePatterns"], at + ".attributePatterns");
    }
}

// Every rule valid, and the legacy `attribute` rule not mixed with the rules replacing it.
void check_ranking_rules(const Checker& c, const std::string& key, const json& v) {
    c.strings(v, key);
    bool legacy = false, modern = false;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto rule = v[i].get<std::string>();
        if (!valid_ranking_rule(rule)) {
            throw c.value_error(key + "[" + std::to_string(i) + "]",
                                "`" + rule +
                                    "` ranking rule is invalid. Valid ranking rules are "
                                    "words, typo, sort, proximity, attribute, exactness and "
                                    "custom ranking rules.");
        }
        legacy |= rule == "attribute";
        modern |= rule == "attributeRank" || rule == "wordPosition";
    }
    if (legacy && modern) {
        throw c.value_error(key,
                            "`attribute` cannot be used together with `attributeRank` "
                            "or `wordPosition`.");
    }
}

// `typoTolerance.minWordSizeForTypos`: two sizes, `oneTypo` at most `twoTypos`.
void check_min_word_sizes(const Checker& c, const std::string& at, const json& m) {
    c.fields(m, at, {"oneTypo", "twoTypos"});
    for (const char* f : {"oneTypo", "twoTypos"}) {
        if (m.contains(f) && !m[f].is_null()) c.uint(m[f], at + "." + f);
    }
    const auto one = m.value("oneTypo", json(5));
    const auto two = m.value("twoTypos", json(9));
    if (one.is_number() && two.is_number() && one.get<std::uint64_t>() > two.get<std::uint64_t>()) {
        throw error(400, "invalid_settings_typo_tolerance",
                    "`minWordSizeForTypos` setting is invalid. `oneTypo` and `twoTypos` "
                    "fields should be between `0` and `255`, and `twoTypos` should be "
                    "greater or equals to `oneTypo` but found `oneTypo: " +
                        one.dump() + "` and twoTypos: " + two.dump() + "`.");
    }
}

void check_typo_tolerance(const Checker& c, const std::string& key, const json& v) {
    c.fields(v, key,
             {"enabled", "minWordSizeForTypos", "disableOnWords", "disableOnAttributes",
              "disableOnNumbers"});
    if (v.contains("enabled") && !v["enabled"].is_null()) c.boolean(v["enabled"], key + ".enabled");
    if (v.contains("disableOnNumbers") && !v["disableOnNumbers"].is_null()) {
        c.boolean(v["disableOnNumbers"], key + ".disableOnNumbers");
    }
    for (const char* f : {"disableOnWords", "disableOnAttributes"}) {
        if (v.contains(f) && !v[f].is_null()) c.strings(v[f], key + "." + f);
    }
    if (v.contains("minWordSizeForTypos") && !v["minWordSizeForTypos"].is_null()) {
        check_min_word_sizes(c, key + ".minWordSizeForTypos", v["minWordSizeForTypos"]);
    }
}

void check_faceting(const Checker& c, const std::string& key, const json& v) {
    c.fields(v, key, {"maxValuesPerFacet", "sortFacetValuesBy"});
    if (v.contains("maxValuesPerFacet") && !v["maxValuesPerFacet"].is_null()) {
        c.uint(v["maxValuesPerFacet"], key + ".maxValuesPerFacet");
    }
    if (v.contains("sortFacetValuesBy") && !v["sortFacetValuesBy"].is_null()) {
        const auto& s = v["sortFacetValuesBy"];
        if (!s.is_object()) throw c.type_error(key + ".sortFacetValuesBy", "an object", s);
        for (auto it = s.begin(); it != s.end(); ++it) {
            c.one_of(it.value(), key + ".sortFacetValuesBy." + it.key(), {"alpha", "count"});
        }
    }
}

void check_pagination(const Checker& c, const std::string& key, const json& v) {
    c.fields(v, key, {"maxTotalHits"});
    if (v.contains("maxTotalHits") && !v["maxTotalHits"].is_null()) {
        c.uint(v["maxTotalHits"], key + ".maxTotalHits");
        if (v["maxTotalHits"].get<std::uint64_t>() == 0) {
            throw c.value_error(key + ".maxTotalHits",
                                "a non-zero integer value lower than `18446744073709551615` "
                                "was expected, but found a zero");
        }
    }
}

// Embedders: only `userProvided` ones, with their dimensions; null removes one.
void check_embedders(const Checker& c, const std::string& key, const json& v) {
    if (!v.is_object()) throw c.type_error(key, "an object", v);
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (it.value().is_null()) continue;
        const auto at = key + "." + it.key();
        c.fields(it.value(), at, {"source", "dimensions", "distribution", "binaryQuantized"});
        if (!it.value().contains("source")) {
            throw error(400, "invalid_settings_embedders",
                        "Missing field `source` inside `." + at + "`");
        }
        c.one_of(it.value()["source"], at + ".source", {"userProvided"});
        if (!it.value().contains("dimensions")) {
            throw error(400, "invalid_settings_embedders",
                        "Missing field `." + at + ".dimensions`\n  - note: `." + at +
                            ".source = \"userProvided\"`");
        }
        c.uint(it.value()["dimensions"], at + ".dimensions");
    }
}

// `foreignKeys`: objects of `foreignIndexUid` and `fieldName`, both strings and required.
void check_foreign_keys(const Checker& c, const std::string& key, const json& v) {
    if (!v.is_array()) throw c.type_error(key, "an array", v);
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string at = key + "[" + std::to_string(i) + "]";
        c.fields(v[i], at, {"foreignIndexUid", "fieldName"});
        for (const char* field : {"foreignIndexUid", "fieldName"}) {
            if (!v[i].contains(field)) {
                throw error(400, "invalid_settings_foreign_keys",
                            "Missing field `" + std::string(field) + "` inside `." + at + "`");
            }
            if (!v[i][field].is_string()) {
                throw c.type_error(at + "." + field, "a string", v[i][field]);
            }
        }
    }
}

// The index's `chat` setting: its description, document template and search parameters.
void check_chat(const Checker& c, const std::string& key, const json& v) {
    c.fields(v, key,
             {"description", "documentTemplate", "documentTemplateMaxBytes", "searchParameters"});
    for (auto it = v.begin(); it != v.end(); ++it) {
        const std::string at = key + "." + it.key();
        if (it.value().is_null()) continue;
        if (it.key() == "documentTemplateMaxBytes") {
            c.uint(it.value(), at);
        } else if (it.key() == "searchParameters") {
            c.fields(it.value(), at,
                     {"hybrid", "limit", "sort", "distinct", "matchingStrategy",
                      "attributesToSearchOn", "rankingScoreThreshold"});
        } else if (!it.value().is_string()) {
            throw c.type_error(at, "a string", it.value());
        }
    }
}

void validate_value(const std::string& key, const json& v) {
    if (v.is_null()) return;  // null resets
    const Checker c(key);
    if (key == "displayedAttributes" || key == "searchableAttributes" ||
        key == "sortableAttributes" || key == "stopWords" || key == "nonSeparatorTokens" ||
        key == "separatorTokens" || key == "dictionary") {
        c.strings(v, key);
    } else if (key == "filterableAttributes") {
        check_filterable_attributes(c, key, v);
    } else if (key == "rankingRules") {
        check_ranking_rules(c, key, v);
    } else if (key == "synonyms") {
        if (!v.is_object()) throw c.type_error(key, "an object", v);
        for (auto it = v.begin(); it != v.end(); ++it) c.strings(it.value(), key + "." + it.key());
    } else if (key == "distinctAttribute") {
        if (!v.is_string()) throw c.type_error(key, "a string", v);
    } else if (key == "proximityPrecision") {
        c.one_of(v, key, {"byWord", "byAttribute"});
    } else if (key == "typoTolerance") {
        check_typo_tolerance(c, key, v);
    } else if (key == "faceting") {
        check_faceting(c, key, v);
    } else if (key == "pagination") {
        check_pagination(c, key, v);
    } else if (key == "embedders") {
        check_embedders(c, key, v);
    } else if (key == "searchCutoffMs") {
        c.uint(v, key);
    } else if (key == "localizedAttributes") {
        if (!v.is_array()) throw c.type_error(key, "an array", v);
    } else if (key == "facetSearch") {
        c.boolean(v, key);
    } else if (key == "prefixSearch") {
        c.one_of(v, key, {"indexingTime", "disabled"});
    } else if (key == "foreignKeys") {
        check_foreign_keys(c, key, v);
    } else if (key == "chat") {
        check_chat(c, key, v);
    }
}

// Values Meilisearch keeps as sets come back sorted.
void normalize(const std::string& key, json& v) {
    if (v.is_null()) return;
    if (key == "sortableAttributes" || key == "stopWords" || key == "nonSeparatorTokens" ||
        key == "separatorTokens" || key == "dictionary") {
        auto items = v.get<std::vector<std::string>>();
        std::sort(items.begin(), items.end());
        items.erase(std::unique(items.begin(), items.end()), items.end());
        v = items;
    } else if (key == "synonyms") {
        std::map<std::string, std::vector<std::string>> sorted;
        for (auto it = v.begin(); it != v.end(); ++it) {
            auto values = it.value().get<std::vector<std::string>>();
            std::sort(values.begin(), values.end());
            sorted[it.key()] = values;
        }
        json out = json::object();
        for (auto& [k, vals] : sorted) out[k] = vals;
        v = out;
    }
}

// Merges `patch` into `target` one level deep (nulls reset to `defaults`).
void merge_object(json& target, const json& patch, const json& defaults) {
    for (auto it = patch.begin(); it != patch.end(); ++it) {
        if (it.value().is_null()) {
            target[it.key()] = defaults[it.key()];
        } else if (it.value().is_object() && target[it.key()].is_object() &&
                   it.key() != "sortFacetValuesBy") {
            merge_object(target[it.key()], it.value(), defaults.value(it.key(), json::object()));
        } else if (it.key() == "sortFacetValuesBy") {
            for (auto s = it.value().begin(); s != it.value().end(); ++s) {
                target[it.key()][s.key()] = s.value();
            }
        } else {
            target[it.key()] = it.value();
        }
    }
}

}  // namespace

json validate_settings_patch(const json& patch) {
    if (!patch.is_object()) {
        throw bad_request("Invalid value type: expected an object, but found " +
                          found_value(patch));
    }
    const auto defaults = default_settings();
    std::vector<std::string> known;
    for (auto it = defaults.begin(); it != defaults.end(); ++it) known.push_back(it.key());
    json out = patch;
    for (auto it = out.begin(); it != out.end(); ++it) {
        if (!defaults.contains(it.key())) {
            throw bad_request("Unknown field `" + it.key() + "`: expected one of " +
                              backquoted_list(known));
        }
        validate_value(it.key(), it.value());
        normalize(it.key(), it.value());
    }
    return out;
}

void apply_settings(State& state, Task& task) {
    const auto& uid = *task.index_uid;
    auto it = state.indexes.find(uid);
    Index& index = it != state.indexes.end() ? it->second : create_index(state, uid, std::nullopt);
    const auto defaults = default_settings();
    for (auto s = task.op.settings.begin(); s != task.op.settings.end(); ++s) {
        const auto& key = s.key();
        if (s.value().is_null()) {
            index.settings[key] = defaults[key];
        } else if (key == "typoTolerance" || key == "faceting" || key == "pagination" ||
                   key == "chat") {
            merge_object(index.settings[key], s.value(), defaults[key]);
        } else if (key == "embedders") {
            for (auto e = s.value().begin(); e != s.value().end(); ++e) {
                if (e.value().is_null()) {
                    index.settings[key].erase(e.key());
                } else {
                    index.settings[key][e.key()] = e.value();
                }
            }
        } else {
            index.settings[key] = s.value();
        }
    }
    index.forget_search();
    index.updated_at = now();
}

// A sub-route's error: its path as the sub-route's value (`[0]`, `.enabled`), not the
// setting's (`.stopWords[0]`), as a node words it.
ApiError sub_route_error(const ApiError& e, const std::string& key) {
    std::string m = e.what();
    auto replace = [&m](const std::string& from, const std::string& to) {
        for (auto at = m.find(from); at != std::string::npos; at = m.find(from, at + to.size())) {
            m.replace(at, from.size(), to);
        }
    };
    replace(" at `." + key + "`", "");
    replace(" inside `." + key + "`", "");
    replace("`." + key + "[", "`[");
    replace("`." + key + ".", "`.");
    return ApiError(e.status(), e.code(), e.type(), m);
}

// The experimental feature a setting needs, its name in Meilisearch's message and link.
struct Gated {
    const char* key;
    const char* feature;
    const char* name;
    const char* link;
};
constexpr Gated kGated[] = {
    {"foreignKeys", "foreignKeys", "foreign_keys",
     "https://github.com/orgs/meilisearch/discussions/873"},
    {"chat", "chatCompletions", "chat completions",
     "https://github.com/orgs/meilisearch/discussions/835"},
};

// The settings routes the shared table does not list: the experimental settings.
struct ExtraRoute {
    const char* path;
    const char* key;
    Method verb;
};
constexpr ExtraRoute kExtraRoutes[] = {{"foreign-keys", "foreignKeys", Method::put},
                                       {"chat", "chat", Method::patch}};

void Node::add_settings_routes() {
    auto enqueue = [this](const std::string& uid, json patch) {
        std::lock_guard lock(state_.mutex);
        for (const auto& g : kGated) {
            if (patch.contains(g.key) && !patch[g.key].is_null() &&
                state_.features.value(g.feature, false) != true) {
                throw error(400, "feature_not_enabled",
                            "setting `" + std::string(g.key) +
                                "` in the index settings requires enabling the `" + g.name +
                                "` experimental feature. See " + g.link);
            }
        }
        Operation op;
        op.settings = patch;
        return respond(
            202, state_.enqueue("settingsUpdate", uid, std::move(patch), std::move(op)).summary());
    };
    auto get_settings = [this](const std::string& uid) {
        check_index_uid(uid);
        std::lock_guard lock(state_.mutex);
        auto it = state_.indexes.find(uid);
        if (it == state_.indexes.end()) throw index_not_found(uid);
        return it->second.settings;
    };
    add(Method::get, "/indexes/{uid}/settings", "settings.get", [this, get_settings](Request& r) {
        auto settings = get_settings(std::string(r.param("uid")));
        std::lock_guard lock(state_.mutex);
        for (const auto& g : kGated) {
            if (state_.features.value(g.feature, false) != true) settings.erase(g.key);
        }
        return respond(200, settings);
    });
    add(Method::patch, "/indexes/{uid}/settings", "settings.update", [enqueue](Request& r) {
        const std::string uid(r.param("uid"));
        check_index_uid(uid);
        return enqueue(uid, validate_settings_patch(json_body(r)));
    });
    add(Method::del, "/indexes/{uid}/settings", "settings.update", [enqueue](Request& r) {
        const std::string uid(r.param("uid"));
        check_index_uid(uid);
        json reset = json::object();
        const auto defaults = default_settings();
        for (auto it = defaults.begin(); it != defaults.end(); ++it) reset[it.key()] = nullptr;
        return enqueue(uid, reset);
    });
    std::vector<std::pair<std::string, std::pair<std::string, Method>>> routes;
    for (const auto& sub : http::kSettingsRoutes) routes.push_back({sub.path, {sub.key, sub.verb}});
    for (const auto& sub : kExtraRoutes) routes.push_back({sub.path, {sub.key, sub.verb}});
    for (const auto& [path, route] : routes) {
        const std::string pattern = "/indexes/{uid}/settings/" + path;
        const std::string key = route.first;
        add(Method::get, pattern, "settings.get", [get_settings, key](Request& r) {
            return respond(200, get_settings(std::string(r.param("uid")))[key]);
        });
        add(route.second, pattern, "settings.update", [enqueue, key](Request& r) {
            const std::string uid(r.param("uid"));
            check_index_uid(uid);
            json patch = json::object();
            json value = r.body.find_first_not_of(" \t\r\n") == std::string::npos ? json(nullptr)
                                                                                  : json_body(r);
            patch[key] = value;
            try {
                patch = validate_settings_patch(patch);
            } catch (const ApiError& e) {
                throw sub_route_error(e, key);
            }
            return enqueue(uid, patch);
        });
        add(Method::del, pattern, "settings.update", [enqueue, key](Request& r) {
            const std::string uid(r.param("uid"));
            check_index_uid(uid);
            return enqueue(uid, json{{key, nullptr}});
        });
    }
}

}  // namespace devnode
