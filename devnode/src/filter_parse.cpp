// Filter parsing: the grammar of Meilisearch's filter-parser crate, with its error messages.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "filter.hpp"

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

    // A parenthesized expression, or one condition on a field.
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
        return parse_condition(field_token, node);
    }

    // What follows a field: an operation and a value, `IN` a list, `EXISTS`, `IS ...`,
    // `STARTS WITH` a value (each but the operations may follow `NOT`), or a range.
    FilterPtr parse_condition(const Token& field_token, const std::shared_ptr<FilterNode>& node) {
        using Kind = FilterNode::Kind;
        const auto& t = peek();
        if (t.type == Token::Type::op) {
            node->kind = Kind::compare;
            node->op = next().text;
            node->value = value();
            return node;
        }
        // the keyword after an optional NOT
        const bool negated = keyword("NOT");
        const std::size_t at = negated ? 1 : 0;
        if (keyword("IN", at)) {
            for (std::size_t i = 0; i <= at; ++i) next();
            node->kind = Kind::in;
            node->values = list();
        } else if (keyword("EXISTS", at)) {
            for (std::size_t i = 0; i <= at; ++i) next();
            node->kind = Kind::exists;
        } else if (keyword("IS")) {
            return parse_is(field_token, node);
        } else if (keyword("STARTS", at) && keyword("WITH", at + 1)) {
            for (std::size_t i = 0; i <= at + 1; ++i) next();
            node->kind = Kind::starts_with;
            node->value = value();
        } else if (keyword("CONTAINS", at)) {
            fail_contains(field_token);
        } else if (t.type == Token::Type::word || t.type == Token::Type::quoted) {
            // a lone NOT lands here too, and fails as the range's value
            return parse_range(field_token, node);
        } else {
            fail_operation(field_token);
        }
        return negated ? make(Kind::not_, {node}) : node;
    }

    // `IS [NOT] NULL` or `IS [NOT] EMPTY`.
    FilterPtr parse_is(const Token& field_token, const std::shared_ptr<FilterNode>& node) {
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
        return node;
    }

    // `field low TO high`.
    FilterPtr parse_range(const Token& field_token, const std::shared_ptr<FilterNode>& node) {
        node->kind = FilterNode::Kind::range;
        node->value = value();
        if (!keyword("TO")) fail_operation(field_token);
        next();
        node->high = value();
        return node;
    }

    // `CONTAINS` needs an experimental feature this node does not have, as Meilisearch without it.
    [[noreturn]] void fail_contains(const Token& field_token) {
        throw error(400, "feature_not_enabled",
                    "Using `CONTAINS` in a filter requires enabling the `contains filter` "
                    "experimental feature. See https://github.com/orgs/meilisearch/"
                    "discussions/763\n" +
                        std::to_string(field_token.start + 1) + ":" + std::to_string(peek().end) +
                        " " + text_);
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

}  // namespace

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

}  // namespace devnode
