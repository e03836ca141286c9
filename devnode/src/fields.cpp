// POST /indexes/{uid}/fields: every field the index's documents have had (nested paths too),
// with what each setting makes of it, sorted by name and paginated, as Meilisearch 1.50 lists
// them (crates/meilisearch/src/routes/indexes/fields.rs).
#include <algorithm>
#include <cctype>
#include <set>

#include "filter.hpp"
#include "node.hpp"
#include "search_engine.hpp"

namespace devnode {

namespace {

// Every path of a document: objects give their own name and their members' paths; arrays of
// objects lend their members' paths.
void paths(const json& value, const std::string& prefix, std::set<std::string>& out) {
    if (value.is_object()) {
        for (const auto& [key, member] : value.items()) {
            const auto path = prefix.empty() ? key : prefix + "." + key;
            out.insert(path);
            if (path != "_vectors") paths(member, path, out);  // embeddings: one field
        }
    } else if (value.is_array()) {
        for (const auto& element : value) paths(element, prefix, out);
    }
}

// A setting's list (displayed, searchable, sortable): "*", the field, or a parent of it.
bool listed(const json& names, const std::string& field) {
    for (const auto& n : names) {
        if (!n.is_string()) continue;
        const auto name = n.get<std::string>();
        if (name == "*" || name == field || field.starts_with(name + ".")) return true;
    }
    return false;
}

bool under(const std::string& name, const std::string& field) {
    return name == field || field.starts_with(name + ".");
}

json filterable(const json& settings, const std::string& field) {
    bool facet_search = false, equality = false, comparison = false;
    for (const auto& rule : settings["filterableAttributes"]) {
        if (rule.is_string()) {
            if (!under(rule.get<std::string>(), field)) continue;
            facet_search = equality = comparison = true;
            break;
        }
        bool matches = false;
        for (const auto& p : rule.value("attributePatterns", json::array())) {
            matches = matches || (p.is_string() && glob(p.get<std::string>(), field));
        }
        if (!matches) continue;
        const auto features = rule.value("features", json::object());
        facet_search = features.value("facetSearch", false);
        const auto filter = features.value("filter", json::object());
        equality = filter.value("equality", true);
        comparison = filter.value("comparison", false);
        break;
    }
    const auto& by = settings["faceting"]["sortFacetValuesBy"];
    json out;
    out["enabled"] = facet_search || equality || comparison;
    out["sortBy"] = by.contains(field) ? by[field] : by.value("*", json("alpha"));
    out["facetSearch"] = facet_search;
    out["equality"] = equality;
    out["comparison"] = comparison;
    return out;
}

json locales(const json& settings, const std::string& field) {
    const auto& rules = settings["localizedAttributes"];
    if (rules.is_array()) {
        for (const auto& rule : rules) {
            bool matches = false;
            for (const auto& p : rule.value("attributePatterns", json::array())) {
                matches = matches || (p.is_string() && glob(p.get<std::string>(), field));
            }
            if (!matches) continue;
            json out = json::array();
            for (const auto& l : rule.value("locales", json::array())) {
                // as milli's Language prints: "fra" → "Fra"
                auto name = l.get<std::string>();
                if (!name.empty()) name[0] = static_cast<char>(std::toupper(name[0]));
                out.push_back(name);
            }
            return out;
        }
    }
    return json::array();
}

json field_view(const json& settings, const std::string& name) {
    json f;
    f["name"] = name;
    f["displayed"]["enabled"] = listed(settings["displayedAttributes"], name);
    f["searchable"]["enabled"] =
        name != "_vectors" && listed(settings["searchableAttributes"], name);
    f["sortable"]["enabled"] = listed(settings["sortableAttributes"], name);
    const auto& distinct = settings["distinctAttribute"];
    f["distinct"]["enabled"] = distinct.is_string() && under(distinct.get<std::string>(), name);
    f["rankingRule"]["enabled"] = false;
    for (const auto& rule : settings["rankingRules"]) {
        const auto text = rule.get<std::string>();
        const auto colon = text.rfind(':');
        if (colon == std::string::npos || !under(text.substr(0, colon), name)) continue;
        f["rankingRule"]["enabled"] = true;
        f["rankingRule"]["order"] = text.substr(colon + 1);
        break;
    }
    f["filterable"] = filterable(settings, name);
    f["localized"]["locales"] = locales(settings, name);
    return f;
}

// The body's fields, checked as Meilisearch checks them.
struct FieldsQuery {
    std::uint64_t offset = 0, limit = 20;
    json filter;
};

std::uint64_t window_value(const json& v, const char* at, const char* code) {
    if (!v.is_number_unsigned()) {
        throw error(400, code,
                    std::string("Invalid value type at `.") + at +
                        "`: expected a positive integer, but found " + found_value(v));
    }
    return v.get<std::uint64_t>();
}

FieldsQuery fields_query(const json& body) {
    if (!body.is_object()) {
        throw bad_request("Invalid value type: expected an object, but found " + found_value(body));
    }
    FieldsQuery q;
    static const char* const flags[] = {"displayed", "searchable",  "sortable",
                                        "distinct",  "rankingRule", "filterable"};
    for (const auto& [key, value] : body.items()) {
        if (key == "offset") {
            q.offset = window_value(value, "offset", "invalid_index_offset");
        } else if (key == "limit") {
            q.limit = window_value(value, "limit", "invalid_index_limit");
        } else if (key == "filter") {
            if (value.is_null()) continue;
            if (!value.is_object()) {
                throw error(400, "invalid_index_fields_filter",
                            "Invalid value type at `.filter`: expected an object, but found " +
                                found_value(value));
            }
            for (const auto& [name, v] : value.items()) {
                const bool flag =
                    std::find(std::begin(flags), std::end(flags), name) != std::end(flags);
                if (!flag && name != "attributePatterns") {
                    throw error(400, "invalid_index_fields_filter",
                                "Unknown field `" + name +
                                    "` inside `.filter`: expected one of `attributePatterns`, "
                                    "`displayed`, `searchable`, `sortable`, `distinct`, "
                                    "`rankingRule`, `filterable`");
                }
                if (flag && !v.is_boolean() && !v.is_null()) {
                    throw error(400, "invalid_index_fields_filter_" + snake_case(name),
                                "Invalid value type at `.filter." + name +
                                    "`: expected a boolean, but found " + found_value(v));
                }
            }
            q.filter = value;
        } else {
            throw bad_request("Unknown field `" + key +
                              "`: expected one of `offset`, `limit`, `filter`");
        }
    }
    return q;
}

bool kept(const FieldsQuery& q, const json& f) {
    if (!q.filter.is_object()) return true;
    for (const auto& [name, v] : q.filter.items()) {
        if (name == "attributePatterns") {
            if (!v.is_array()) continue;
            bool matches = false;
            for (const auto& p : v) {
                matches = matches || (p.is_string() &&
                                      glob(p.get<std::string>(), f["name"].get<std::string>()));
            }
            if (!matches) return false;
        } else if (v.is_boolean() && f[name]["enabled"] != v) {
            return false;
        }
    }
    return true;
}

}  // namespace

Response list_fields(State& state, Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto q = fields_query(json_body(r));
    std::lock_guard lock(state.mutex);
    auto it = state.indexes.find(uid);
    if (it == state.indexes.end()) throw index_not_found(uid);
    std::set<std::string> names;
    for (const auto& doc : it->second.slots) {
        if (doc) paths(*doc, "", names);
    }
    json results = json::array();
    std::uint64_t total = 0;
    for (const auto& name : names) {
        auto f = field_view(it->second.settings, name);
        if (!kept(q, f)) continue;
        if (total >= q.offset && results.size() < q.limit) results.push_back(std::move(f));
        ++total;
    }
    json out;
    out["results"] = std::move(results);
    out["offset"] = q.offset;
    out["limit"] = q.limit;
    out["total"] = total;
    return respond(200, out);
}

}  // namespace devnode
