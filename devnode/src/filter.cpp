// Filter evaluation, the filterable-attribute checks and the rendering of a filter in errors
// (the parser is in filter_parse.cpp).
#include "filter.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace devnode {

namespace {

std::optional<double> as_number(const std::string& s) {
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !std::isfinite(d)) return std::nullopt;
    return d;
}

void collect(const json& value, std::vector<const json*>& out) {
    if (value.is_array()) {
        for (const auto& v : value) collect(v, out);
    } else {
        out.push_back(&value);
    }
}

void values_at(const json& node, std::string_view path, std::vector<const json*>& out) {
    if (node.is_array()) {
        for (const auto& item : node) values_at(item, path, out);
        return;
    }
    if (!node.is_object()) return;
    if (auto it = node.find(std::string(path)); it != node.end()) collect(*it, out);
    for (auto dot = path.find('.'); dot != std::string_view::npos; dot = path.find('.', dot + 1)) {
        if (auto it = node.find(std::string(path.substr(0, dot))); it != node.end()) {
            values_at(*it, path.substr(dot + 1), out);
        }
    }
}

// The string a value is indexed as for filters, or nullopt for non-scalars.
std::optional<std::string> facet_string(const json& v) {
    if (v.is_string()) return normalize(v.get<std::string>());
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    return std::nullopt;
}

bool compare_one(const json& v, const std::string& op, const std::string& literal) {
    const auto number = as_number(literal);
    if (op == "=") {
        if (number && v.is_number() && v.get<double>() == *number) return true;
        const auto s = facet_string(v);
        return s && *s == normalize(literal);
    }
    int cmp;
    if (number && v.is_number()) {
        const double d = v.get<double>();
        cmp = d < *number ? -1 : d > *number ? 1 : 0;
    } else if (v.is_string()) {
        const auto s = normalize(v.get<std::string>());
        const auto l = normalize(literal);
        cmp = s < l ? -1 : s > l ? 1 : 0;
    } else {
        return false;
    }
    if (op == ">") return cmp > 0;
    if (op == ">=") return cmp >= 0;
    if (op == "<") return cmp < 0;
    if (op == "<=") return cmp <= 0;
    return false;
}

void fields_of(const FilterPtr& f, std::vector<const FilterNode*>& out) {
    if (!f) return;
    if (f->kind == FilterNode::Kind::and_ || f->kind == FilterNode::Kind::or_ ||
        f->kind == FilterNode::Kind::not_) {
        for (const auto& c : f->children) fields_of(c, out);
    } else {
        out.push_back(f.get());
    }
}

bool glob(std::string_view pattern, std::string_view s) {
    if (pattern == "*") return true;
    const auto star = pattern.find('*');
    if (star == std::string_view::npos) return pattern == s;
    const auto prefix = pattern.substr(0, star);
    const auto suffix = pattern.substr(star + 1);
    return s.size() >= prefix.size() + suffix.size() && s.starts_with(prefix) &&
           s.ends_with(suffix);
}

// Lowercase, ASCII and two-byte UTF-8 Latin-1 letters; with `fold_accents` a Latin-1 letter
// becomes its base letter (`É` → `e`), else its lowercase (`É` → `é`).
std::string lower_latin1(std::string_view s, bool fold_accents) {
    static const char* kFold =
        "aaaaaaaceeeeiiiidnooooo/ouuuuyts"   // 0x80-0x9F (upper)
        "aaaaaaaceeeeiiiidnooooo/ouuuuyty";  // 0xA0-0xBF (lower)
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const unsigned char d = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
        if (c == 0xC3 && d >= 0x80 && d <= 0xBF) {
            ++i;
            if (fold_accents && kFold[d - 0x80] != '/') {
                out.push_back(kFold[d - 0x80]);
                continue;
            }
            out.push_back(static_cast<char>(c));
            // À..Þ (but ×) → à..þ
            out.push_back(static_cast<char>(d <= 0x9E && d != 0x97 ? d + 0x20 : d));
            continue;
        }
        out.push_back(static_cast<char>(std::tolower(c)));
    }
    return out;
}

}  // namespace

std::string fold_word(std::string_view s) {
    auto out = lower_latin1(s, true);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

std::string normalize(std::string_view s) {
    // Meilisearch trims a facet value and lowercases its compatibility decomposition: accents
    // stay (`Évasion` is `évasion`, not `evasion`)
    const auto first = s.find_first_not_of(' ');
    const auto last = s.find_last_not_of(' ');
    return lower_latin1(
        first == std::string_view::npos ? std::string_view() : s.substr(first, last - first + 1),
        false);
}

namespace {

// Whether normalize() leaves `s` as it is: ASCII without capitals or spaces at either end.
bool is_normal(std::string_view s) {
    if (!s.empty() && (s.front() == ' ' || s.back() == ' ')) return false;
    return std::none_of(s.begin(), s.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x80 || (c >= 'A' && c <= 'Z');
    });
}

}  // namespace

std::vector<const json*> field_values(const json& doc, const std::string& field) {
    std::vector<const json*> out;
    values_at(doc, field, out);
    return out;
}

std::string available_patterns(const json& filterable, const std::string& kind, bool facet_search) {
    std::set<std::string> names;
    for (const auto& rule : filterable) {
        if (rule.is_string()) {
            names.insert(rule.get<std::string>());
            continue;
        }
        const auto features = rule.value("features", json::object());
        const auto filter = features.value("filter", json::object());
        const bool opens =
            facet_search ? features.value("facetSearch", false)
                         : filter.value("equality", true) || filter.value("comparison", false);
        if (!opens) continue;
        for (const auto& p : rule.value("attributePatterns", json::array())) {
            names.insert(p.get<std::string>());
        }
    }
    if (names.empty()) return "This index does not have configured " + kind + " attributes.";
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    return "Available " + kind + " attributes patterns are: `" + list + "`.";
}

bool is_filterable(const json& filterable, const std::string& field) {
    for (const auto& rule : filterable) {
        if (rule.is_string()) {
            const auto name = rule.get<std::string>();
            if (glob(name, field) || field.starts_with(name + ".")) return true;
        } else if (rule.is_object()) {
            for (const auto& p : rule.value("attributePatterns", json::array())) {
                if (p.is_string() && glob(p.get<std::string>(), field)) return true;
            }
        }
    }
    return false;
}

namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// The expression as Meilisearch's search route writes it back in its errors: names and values
// quoted, each operand of AND, OR and NOT in parentheses (`NOT ("genre" IN ["a", "b"])`);
// `at` gets the offset of each leaf's field name.
void render(const FilterNode& n, std::string& out, std::map<const FilterNode*, std::size_t>& at) {
    using K = FilterNode::Kind;
    if (n.kind == K::and_ || n.kind == K::or_) {
        for (std::size_t i = 0; i < n.children.size(); ++i) {
            if (i > 0) out += n.kind == K::and_ ? " AND " : " OR ";
            out += '(';
            render(*n.children[i], out, at);
            out += ')';
        }
        return;
    }
    if (n.kind == K::not_) {
        out += "NOT (";
        render(*n.children.front(), out, at);
        out += ')';
        return;
    }
    at[&n] = out.size() + 1;
    out += quoted(n.field);
    switch (n.kind) {
        case K::compare:
            out += " " + n.op + " " + quoted(n.value);
            break;
        case K::range:
            out += " " + quoted(n.value) + " TO " + quoted(n.high);
            break;
        case K::in: {
            out += " IN [";
            for (std::size_t i = 0; i < n.values.size(); ++i) {
                out += (i > 0 ? ", " : "") + quoted(n.values[i]);
            }
            out += ']';
            break;
        }
        case K::exists:
            out += " EXISTS";
            break;
        case K::is_null:
            out += " IS NULL";
            break;
        case K::is_empty:
            out += " IS EMPTY";
            break;
        case K::starts_with:
            out += " STARTS WITH " + quoted(n.value);
            break;
        case K::contains:
            out += " CONTAINS " + quoted(n.value);
            break;
        default:
            break;
    }
}

}  // namespace

void check_filterable(const FilterPtr& filter, const json& filterable, const std::string& code,
                      const std::string* index_uid) {
    std::vector<const FilterNode*> leaves;
    fields_of(filter, leaves);
    for (const auto* leaf : leaves) {
        if (is_filterable(filterable, leaf->field)) continue;
        std::vector<std::string> patterns;
        for (const auto& rule : filterable) {
            if (rule.is_string())
                patterns.push_back(rule.get<std::string>());
            else
                for (const auto& p : rule.value("attributePatterns", json::array())) {
                    patterns.push_back(p.get<std::string>());
                }
        }
        std::sort(patterns.begin(), patterns.end());
        std::string where = "\n" + std::to_string(leaf->start + 1) + ":" +
                            std::to_string(leaf->end + 1) + " " + leaf->text;
        if (index_uid) {
            std::string rendered;
            std::map<const FilterNode*, std::size_t> at;
            render(*filter, rendered, at);
            const auto start = at[leaf];
            where = "\n" + std::to_string(start + 1) + ":" +
                    std::to_string(start + 1 + leaf->field.size()) + " " + rendered;
        }
        throw error(
            400, code,
            (index_uid ? "Index `" + *index_uid + "`: " : std::string()) + "Attribute `" +
                leaf->field + "` is not filterable. " +
                (patterns.empty() ? std::string("This index does not have configured filterable "
                                                "attributes.")
                                  : "Available filterable attribute patterns are: " +
                                        backquoted_list(patterns) + ".") +
                where);
    }
}

namespace {

// An `IN` filter's test of a document's values.
bool matches_in(const FilterNode& f, const std::vector<const json*>& values) {
    if (f.literals.size() != f.values.size()) {
        f.literals.clear();
        for (const auto& l : f.values) f.literals.emplace_back(normalize(l), as_number(l));
    }
    return std::any_of(values.begin(), values.end(), [&](const json* v) {
        // a string normalize() leaves as it is is compared without a copy
        const bool plain = v->is_string() && is_normal(v->get_ref<const std::string&>());
        const auto s = plain ? std::nullopt : facet_string(*v);
        return std::any_of(f.literals.begin(), f.literals.end(), [&](const auto& l) {
            if (l.second && v->is_number() && v->get<double>() == *l.second) return true;
            if (plain) return v->get_ref<const std::string&>() == l.first;
            return s && *s == l.first;
        });
    });
}

}  // namespace

bool matches(const FilterPtr& f, const json& doc) {
    if (!f) return true;
    using K = FilterNode::Kind;
    switch (f->kind) {
        case K::and_:
            return std::all_of(f->children.begin(), f->children.end(),
                               [&](const FilterPtr& c) { return matches(c, doc); });
        case K::or_:
            return std::any_of(f->children.begin(), f->children.end(),
                               [&](const FilterPtr& c) { return matches(c, doc); });
        case K::not_:
            return !matches(f->children[0], doc);
        default:
            break;
    }
    const auto values = field_values(doc, f->field);
    switch (f->kind) {
        case K::compare:
            if (f->op == "!=") {
                return std::none_of(values.begin(), values.end(),
                                    [&](const json* v) { return compare_one(*v, "=", f->value); });
            }
            return std::any_of(values.begin(), values.end(),
                               [&](const json* v) { return compare_one(*v, f->op, f->value); });
        case K::range:
            return std::any_of(values.begin(), values.end(), [&](const json* v) {
                return compare_one(*v, ">=", f->value) && compare_one(*v, "<=", f->high);
            });
        case K::in:
            return matches_in(*f, values);
        case K::exists: {
            std::vector<const json*> raw;
            // present even when null or an empty array
            std::function<bool(const json&, std::string_view)> present =
                [&](const json& node, std::string_view path) -> bool {
                if (node.is_array()) {
                    return std::any_of(node.begin(), node.end(),
                                       [&](const json& i) { return present(i, path); });
                }
                if (!node.is_object()) return false;
                if (node.contains(std::string(path))) return true;
                for (auto dot = path.find('.'); dot != std::string_view::npos;
                     dot = path.find('.', dot + 1)) {
                    auto it = node.find(std::string(path.substr(0, dot)));
                    if (it != node.end() && present(*it, path.substr(dot + 1))) return true;
                }
                return false;
            };
            return present(doc, f->field);
        }
        case K::is_null:
            return std::any_of(values.begin(), values.end(),
                               [](const json* v) { return v->is_null(); });
        case K::is_empty: {
            auto it = doc.find(f->field);
            if (it == doc.end()) return false;
            const auto& v = *it;
            return (v.is_string() && v.get<std::string>().empty()) || (v.is_array() && v.empty()) ||
                   (v.is_object() && v.empty());
        }
        case K::starts_with: {
            const auto prefix = normalize(f->value);
            return std::any_of(values.begin(), values.end(), [&](const json* v) {
                return v->is_string() && normalize(v->get<std::string>()).starts_with(prefix);
            });
        }
        default:
            return false;
    }
}

}  // namespace devnode
