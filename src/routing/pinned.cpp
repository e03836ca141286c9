// The primary-key planner (see pinned.hpp). Deliberately narrow: it reads only what it can be
// sure of, and anything else leaves the search on every shard.
#include <algorithm>
#include <cctype>

#include <miroir/routing/pinned.hpp>

namespace miroir::routing {

namespace {

using json = nlohmann::ordered_json;

struct Token {
    enum Kind { word, quoted, open_paren, close_paren, open_bracket, close_bracket, comma, op };
    Kind kind;
    std::string text;
};

bool is_operator_char(char c) { return c == '=' || c == '!' || c == '<' || c == '>'; }

// The tokens of a filter expression; nullopt when it does not tokenize (the nodes judge it).
std::optional<std::vector<Token>> tokenize(std::string_view s) {
    std::vector<Token> out;
    for (std::size_t i = 0; i < s.size();) {
        const char c = s[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
        } else if (c == '"' || c == '\'') {
            std::string text;
            std::size_t j = i + 1;
            for (; j < s.size() && s[j] != c; ++j) {
                if (s[j] == '\\' && j + 1 < s.size()) ++j;
                text.push_back(s[j]);
            }
            if (j >= s.size()) return std::nullopt;
            out.push_back({Token::quoted, std::move(text)});
            i = j + 1;
        } else if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',') {
            const auto kind = c == '('   ? Token::open_paren
                              : c == ')' ? Token::close_paren
                              : c == '[' ? Token::open_bracket
                              : c == ']' ? Token::close_bracket
                                         : Token::comma;
            out.push_back({kind, std::string(1, c)});
            ++i;
        } else if (is_operator_char(c)) {
            std::size_t j = i;
            while (j < s.size() && is_operator_char(s[j])) ++j;
            out.push_back({Token::op, std::string(s.substr(i, j - i))});
            i = j;
        } else {
            std::size_t j = i;
            while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) &&
                   !is_operator_char(s[j]) &&
                   std::string_view("()[],\"'").find(s[j]) == std::string_view::npos) {
                ++j;
            }
            out.push_back({Token::word, std::string(s.substr(i, j - i))});
            i = j;
        }
    }
    return out;
}

bool keyword(const Token& t, std::string_view word) {
    if (t.kind != Token::word || t.text.size() != word.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
        if (std::toupper(static_cast<unsigned char>(t.text[i])) != word[i]) return false;
    }
    return true;
}

// A value Meilisearch accepts as a document id, written so that it cannot mean another one.
bool plain_id(const Token& t) {
    if (t.kind != Token::word && t.kind != Token::quoted) return false;
    if (t.text.empty() || t.text.size() > 511) return false;
    for (char c : t.text) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    return true;
}

using Span = std::pair<std::size_t, std::size_t>;  // [first, last) of the tokens

// `pk = v` or `pk IN [v, ...]`, exactly, in `tokens[span]` (outer parentheses dropped).
std::optional<std::vector<std::string>> pin_of(const std::vector<Token>& t, Span span,
                                               std::string_view pk) {
    auto [first, last] = span;
    while (last - first >= 2 && t[first].kind == Token::open_paren &&
           t[last - 1].kind == Token::close_paren) {
        // only when the two parentheses match each other
        int depth = 0;
        bool wraps = true;
        for (std::size_t i = first; i < last - 1 && wraps; ++i) {
            depth += t[i].kind == Token::open_paren ? 1 : t[i].kind == Token::close_paren ? -1 : 0;
            wraps = depth > 0;
        }
        if (!wraps) break;
        ++first;
        --last;
    }
    if (last - first < 3 || t[first].kind != Token::word || t[first].text != pk) {
        return std::nullopt;
    }
    if (last - first == 3 && t[first + 1].kind == Token::op && t[first + 1].text == "=" &&
        plain_id(t[first + 2])) {
        return std::vector<std::string>{t[first + 2].text};
    }
    if (!keyword(t[first + 1], "IN") || t[first + 2].kind != Token::open_bracket ||
        t[last - 1].kind != Token::close_bracket) {
        return std::nullopt;
    }
    std::vector<std::string> ids;
    for (std::size_t i = first + 3; i < last - 1; i += 2) {
        if (!plain_id(t[i])) return std::nullopt;
        ids.push_back(t[i].text);
        const bool end = i + 1 == last - 1;
        if (!end && t[i + 1].kind != Token::comma) return std::nullopt;
    }
    if (ids.empty()) return std::nullopt;
    return ids;
}

// The pin of a filter string: its top-level AND-ed conditions, the first that pins.
std::optional<std::vector<std::string>> pin_of_text(std::string_view text, std::string_view pk) {
    const auto tokens = tokenize(text);
    if (!tokens || tokens->empty()) return std::nullopt;
    const auto& t = *tokens;
    std::vector<Span> conjuncts;
    std::size_t start = 0;
    int depth = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (t[i].kind == Token::open_paren || t[i].kind == Token::open_bracket) ++depth;
        if (t[i].kind == Token::close_paren || t[i].kind == Token::close_bracket) --depth;
        if (depth < 0) return std::nullopt;
        if (depth > 0) continue;
        if (keyword(t[i], "OR")) return std::nullopt;  // a disjunction binds no hit
        if (keyword(t[i], "AND")) {
            conjuncts.emplace_back(start, i);
            start = i + 1;
        }
    }
    if (depth != 0) return std::nullopt;
    conjuncts.emplace_back(start, t.size());
    for (const auto& span : conjuncts) {
        if (span.first < span.second && keyword(t[span.first], "NOT")) continue;
        if (auto ids = pin_of(t, span, pk)) return ids;
    }
    return std::nullopt;
}

// The attribute of each condition of a filter string: the first token of the expression and
// of what follows AND, OR, NOT or an opening parenthesis (a geo function such as
// `_geoRadius(...)` is none).
void attributes_of_text(std::string_view text, std::vector<std::string>& out) {
    const auto tokens = tokenize(text);
    if (!tokens) return;
    const auto& t = *tokens;
    bool starts = true;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const bool connective = keyword(t[i], "AND") || keyword(t[i], "OR") || keyword(t[i], "NOT");
        if (connective || t[i].kind == Token::open_paren) {
            starts = true;
            continue;
        }
        if (i + 1 < t.size() && t[i + 1].kind == Token::open_paren) {
            // a function such as _geoRadius: its arguments are values, skipped to its end
            for (int depth = 0; ++i < t.size();) {
                depth += t[i].kind == Token::open_paren ? 1 : 0;
                depth -= t[i].kind == Token::close_paren ? 1 : 0;
                if (depth == 0) break;
            }
            starts = false;
            continue;
        }
        const bool name = t[i].kind == Token::word || t[i].kind == Token::quoted;
        if (starts && name && std::find(out.begin(), out.end(), t[i].text) == out.end()) {
            out.push_back(t[i].text);
        }
        starts = false;
    }
}

void attributes_of(const json& filter, std::vector<std::string>& out) {
    if (filter.is_string()) attributes_of_text(filter.get_ref<const std::string&>(), out);
    if (!filter.is_array()) return;
    for (const auto& element : filter) attributes_of(element, out);
}

}  // namespace

std::vector<std::string> filter_attributes(const json& filter) {
    std::vector<std::string> out;
    attributes_of(filter, out);
    return out;
}

std::optional<std::vector<std::string>> pinned_ids(const json& filter,
                                                   std::string_view primary_key) {
    if (primary_key.empty()) return std::nullopt;
    if (filter.is_string()) return pin_of_text(filter.get_ref<const std::string&>(), primary_key);
    if (!filter.is_array()) return std::nullopt;
    for (const auto& element : filter) {
        const json* one = &element;
        if (element.is_array()) {
            if (element.size() != 1) continue;  // an OR of several conditions
            one = &element[0];
        }
        if (!one->is_string()) continue;
        if (auto ids = pin_of_text(one->get_ref<const std::string&>(), primary_key)) return ids;
    }
    return std::nullopt;
}

}  // namespace miroir::routing
