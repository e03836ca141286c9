// Filter parsing and evaluation (the grammar of Meilisearch's filter-parser crate).
#include "filter.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace devnode {

namespace {

struct Token {
    enum class Type { word, quoted, lparen, rparen, lbracket, rbracket, comma, op, end } type;
    std::string text;
    int start = 0;  // 0-based byte offset
    int end = 0;
};

const std::set<std::string> kKeywords = {
    "AND",   "OR",       "NOT",    "IN",   "TO",         "EXISTS",          "IS",         "NULL",
    "EMPTY", "CONTAINS", "STARTS", "WITH", "_geoRadius", "_geoBoundingBox", "_geoPolygon"};

class Parser {
  public:
    Parser(std::string text, std::string code) : text_(std::move(text)), code_(std::move(code)) {
        tokenize();
    }

    FilterPtr parse() {
        auto node = parse_or(0);
        if (peek().type != Token::Type::end) {
            fail(peek(), "Found unexpected characters at the end of the filter: `" +
                             text_.substr(peek().start) +
                             "`. You probably forgot an `OR` or an `AND` rule.");
        }
        return node;
    }

  private:
    [[noreturn]] void fail(const Token& at, const std::string& message) const {
        throw error(400, code_,
                    message + "\n" + std::to_string(at.start + 1) + ":" +
                        std::to_string(std::max(at.end, at.start + 1)) + " " + text_);
    }

    void tokenize() {
        std::size_t i = 0;
        auto is_word = [](unsigned char c) {
            return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c >= 0x80;
        };
        while (i < text_.size()) {
            const char c = text_[i];
            const int start = static_cast<int>(i);
            if (std::isspace(static_cast<unsigned char>(c))) {
                ++i;
            } else if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',') {
                const auto type = c == '('   ? Token::Type::lparen
                                  : c == ')' ? Token::Type::rparen
                                  : c == '[' ? Token::Type::lbracket
                                  : c == ']' ? Token::Type::rbracket
                                             : Token::Type::comma;
                tokens_.push_back({type, std::string(1, c), start, start + 1});
                ++i;
            } else if (c == '=' || c == '!' || c == '<' || c == '>') {
                std::string op(1, c);
                if (i + 1 < text_.size() && text_[i + 1] == '=') op += '=';
                if (op == "!") {
                    fail({Token::Type::op, op, start, start + 1},
                         "Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, "
                         "`NOT IN`, `TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, "
                         "`IS EMPTY`, `IS NOT EMPTY`, `CONTAINS`, `NOT CONTAINS`, `STARTS WITH`, "
                         "`NOT STARTS WITH`, `_geoRadius`, or `_geoBoundingBox` at `" +
                             text_.substr(i) + "`.");
                }
                tokens_.push_back(
                    {Token::Type::op, op, start, start + static_cast<int>(op.size())});
                i += op.size();
            } else if (c == '"' || c == '\'') {
                std::string value;
                std::size_t j = i + 1;
                bool closed = false;
                while (j < text_.size()) {
                    if (text_[j] == '\\' && j + 1 < text_.size()) {
                        const char e = text_[j + 1];
                        value += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
                        j += 2;
                    } else if (text_[j] == c) {
                        closed = true;
                        break;
                    } else {
                        value += text_[j++];
                    }
                }
                if (!closed) {
                    fail({Token::Type::quoted, "", start, static_cast<int>(text_.size())},
                         std::string("Expression `") + text_.substr(i) +
                             "` is missing the following closing delimiter: `" + c + "`.");
                }
                tokens_.push_back({Token::Type::quoted, value, start, static_cast<int>(j + 1)});
                i = j + 1;
            } else if (is_word(static_cast<unsigned char>(c))) {
                std::size_t j = i;
                while (j < text_.size() && is_word(static_cast<unsigned char>(text_[j]))) ++j;
                tokens_.push_back(
                    {Token::Type::word, text_.substr(i, j - i), start, static_cast<int>(j)});
                i = j;
            } else {
                fail({Token::Type::word, std::string(1, c), start, start + 1},
                     "Was expecting a value but instead got `" + std::string(1, c) + "`.");
            }
        }
        const int n = static_cast<int>(text_.size());
        tokens_.push_back({Token::Type::end, "", n, n});
    }

    const Token& peek(std::size_t ahead = 0) const {
        return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
    }
    const Token& next() { return tokens_[std::min(pos_++, tokens_.size() - 1)]; }
    bool keyword(const char* k, std::size_t ahead = 0) const {
        const auto& t = peek(ahead);
        return t.type == Token::Type::word && t.text == k;
    }

    FilterPtr make(FilterNode::Kind kind, std::vector<FilterPtr> children = {}) {
        auto n = std::make_shared<FilterNode>();
        n->kind = kind;
        n->children = std::move(children);
        n->text = text_;
        return n;
    }

    FilterPtr parse_or(int depth) {
        std::vector<FilterPtr> items{parse_and(depth)};
        while (keyword("OR")) {
            next();
            items.push_back(parse_and(depth));
        }
        return items.size() == 1 ? items[0] : make(FilterNode::Kind::or_, std::move(items));
    }

    FilterPtr parse_and(int depth) {
        std::vector<FilterPtr> items{parse_not(depth)};
        while (keyword("AND")) {
            next();
            items.push_back(parse_not(depth));
        }
        return items.size() == 1 ? items[0] : make(FilterNode::Kind::and_, std::move(items));
    }

    FilterPtr parse_not(int depth) {
        if (depth > 150)
            fail(peek(),
                 "The filter exceeded the maximum depth limit. Try rewriting the filter so that it "
                 "contains fewer nested conditions.");
        if (keyword("NOT")) {
            next();
            return make(FilterNode::Kind::not_, {parse_not(depth + 1)});
        }
        return parse_primary(depth);
    }

    // A value: a word that is not a keyword, or a quoted string.
    std::string value(const char* what = "a value") {
        const auto& t = peek();
        if (t.type == Token::Type::quoted) return next().text;
        if (t.type == Token::Type::word) {
            if (kKeywords.count(t.text)) {
                fail(t, "Was expecting a value but instead got `" + t.text +
                            "`, which is a reserved keyword. To use `" + t.text +
                            "` as a field name or a value, surround it by quotes.");
            }
            return next().text;
        }
        if (t.type == Token::Type::end)
            fail(t, std::string("Was expecting ") + what + " but instead got nothing.");
        fail(t, "Was expecting a value but instead got `" + t.text + "`.");
    }

    FilterPtr parse_primary(int depth) {
        const auto& first = peek();
        if (first.type == Token::Type::lparen) {
            next();
            auto inner = parse_or(depth + 1);
            if (peek().type != Token::Type::rparen) {
                fail(first, "Expression `" + text_.substr(first.start) +
                                "` is missing the following closing delimiter: `)`.");
            }
            next();
            return inner;
        }
        if (first.type == Token::Type::word &&
            (first.text == "_geoRadius" || first.text == "_geoBoundingBox" ||
             first.text == "_geoPolygon")) {
            fail(first, "Geo filters are not supported by this development node.");
        }
        const Token field_token = first;
        const std::string field = value();
        auto node = std::make_shared<FilterNode>();
        node->field = field;
        node->text = text_;
        node->start = field_token.start;
        node->end = field_token.end;
        const auto& t = peek();
        if (t.type == Token::Type::op) {
            node->kind = FilterNode::Kind::compare;
            node->op = next().text;
            node->value = value();
        } else if (keyword("IN")) {
            next();
            node->kind = FilterNode::Kind::in;
            node->values = list();
        } else if (keyword("NOT") && keyword("IN", 1)) {
            next();
            next();
            node->kind = FilterNode::Kind::in;
            node->values = list();
            return make(FilterNode::Kind::not_, {node});
        } else if (keyword("EXISTS")) {
            next();
            node->kind = FilterNode::Kind::exists;
        } else if (keyword("NOT") && keyword("EXISTS", 1)) {
            next();
            next();
            node->kind = FilterNode::Kind::exists;
            return make(FilterNode::Kind::not_, {node});
        } else if (keyword("IS")) {
            next();
            bool negate = false;
            if (keyword("NOT")) {
                next();
                negate = true;
            }
            if (keyword("NULL")) {
                node->kind = FilterNode::Kind::is_null;
            } else if (keyword("EMPTY")) {
                node->kind = FilterNode::Kind::is_empty;
            } else {
                fail(peek(),
                     "Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, "
                     "`NOT IN`, `TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, "
                     "`IS EMPTY`, `IS NOT EMPTY`, `CONTAINS`, `NOT CONTAINS`, `STARTS "
                     "WITH`, `NOT STARTS WITH`, `_geoRadius`, or `_geoBoundingBox` at `" +
                         text_.substr(field_token.start) + "`.");
            }
            next();
            if (negate) return make(FilterNode::Kind::not_, {node});
        } else if (keyword("STARTS") && keyword("WITH", 1)) {
            next();
            next();
            node->kind = FilterNode::Kind::starts_with;
            node->value = value();
        } else if (keyword("NOT") && keyword("STARTS", 1) && keyword("WITH", 2)) {
            next();
            next();
            next();
            node->kind = FilterNode::Kind::starts_with;
            node->value = value();
            return make(FilterNode::Kind::not_, {node});
        } else if (keyword("CONTAINS") || (keyword("NOT") && keyword("CONTAINS", 1))) {
            throw error(400, "feature_not_enabled",
                        "Using `CONTAINS` in a filter requires enabling the `contains filter` "
                        "experimental feature. See https://github.com/orgs/meilisearch/"
                        "discussions/763\n" +
                            std::to_string(field_token.start + 1) + ":" +
                            std::to_string(peek().end) + " " + text_);
        } else if (t.type == Token::Type::word || t.type == Token::Type::quoted) {
            // field low TO high
            node->kind = FilterNode::Kind::range;
            node->value = value();
            if (!keyword("TO")) fail_operation(field_token);
            next();
            node->high = value();
        } else {
            fail_operation(field_token);
        }
        return node;
    }

    [[noreturn]] void fail_operation(const Token& field_token) {
        Token at = field_token;
        at.end = static_cast<int>(text_.size());
        fail(at,
             "Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, "
             "`TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, `IS NOT "
             "EMPTY`, `CONTAINS`, `NOT CONTAINS`, `STARTS WITH`, `NOT STARTS WITH`, "
             "`_geoRadius`, or `_geoBoundingBox` at `" +
                 text_.substr(field_token.start) + "`.");
    }

    std::vector<std::string> list() {
        const auto& open = peek();
        if (open.type != Token::Type::lbracket) {
            fail(open, "Expected `[` after `IN` keyword.");
        }
        next();
        std::vector<std::string> out;
        while (peek().type != Token::Type::rbracket) {
            out.push_back(value());
            if (peek().type == Token::Type::comma) {
                next();
            } else if (peek().type != Token::Type::rbracket) {
                fail(open, "Expected matching `]` after the list of values in `IN`.");
            }
        }
        next();
        return out;
    }

    std::string text_;
    std::string code_;
    std::vector<Token> tokens_;
    std::size_t pos_ = 0;
};

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

std::vector<const json*> field_values(const json& doc, const std::string& field) {
    std::vector<const json*> out;
    values_at(doc, field, out);
    return out;
}

FilterPtr parse_filter(const json& filter, const std::string& code) {
    if (filter.is_null()) return nullptr;
    if (filter.is_string()) {
        const auto text = filter.get<std::string>();
        if (text.find_first_not_of(" \t\r\n") == std::string::npos) return nullptr;
        return Parser(text, code).parse();
    }
    if (filter.is_array()) {
        std::vector<FilterPtr> all;
        for (const auto& item : filter) {
            if (item.is_string()) {
                if (auto f = parse_filter(item, code)) all.push_back(f);
            } else if (item.is_array()) {
                std::vector<FilterPtr> any;
                for (const auto& inner : item) {
                    if (!inner.is_string()) {
                        throw error(400, code,
                                    "Invalid syntax for the filter parameter: `expected String, "
                                    "[String], found: " +
                                        inner.dump() + "`.");
                    }
                    if (auto f = parse_filter(inner, code)) any.push_back(f);
                }
                if (any.size() == 1) all.push_back(any[0]);
                if (any.size() > 1) {
                    auto n = std::make_shared<FilterNode>();
                    n->kind = FilterNode::Kind::or_;
                    n->children = std::move(any);
                    all.push_back(n);
                }
            } else {
                throw error(400, code,
                            "Invalid syntax for the filter parameter: `expected String, "
                            "[String], found: " +
                                item.dump() + "`.");
            }
        }
        if (all.empty()) return nullptr;
        if (all.size() == 1) return all[0];
        auto n = std::make_shared<FilterNode>();
        n->kind = FilterNode::Kind::and_;
        n->children = std::move(all);
        return n;
    }
    throw error(400, code,
                "Invalid syntax for the filter parameter: `expected String, Array, found: " +
                    filter.dump() + "`.");
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
            return std::any_of(values.begin(), values.end(), [&](const json* v) {
                return std::any_of(f->values.begin(), f->values.end(),
                                   [&](const std::string& l) { return compare_one(*v, "=", l); });
            });
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
