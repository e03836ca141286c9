// The scrubber: each object that may hold Miroir's fields is walked member by member; a member
// to drop is cut from its key's opening quote to the end of its value, with the comma that
// separates it from a member that stays (the one before it when some member before it stays,
// else the one after it), so that the object remains valid JSON whatever it kept.
#include <algorithm>
#include <simdjson.h>
#include <utility>
#include <vector>

#include <miroir/merge/scrub.hpp>

namespace miroir::merge {

namespace od = simdjson::ondemand;

namespace {

using Cut = std::pair<std::size_t, std::size_t>;  // [from, to) in the answer

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class Scrubber {
  public:
    Scrubber(std::string_view text, std::string_view prefix, std::string_view keep)
        : text_(text), prefix_(prefix), keep_(keep) {}

    // Records the cuts of `object`'s members to drop; `formatted` also walks its `_formatted`.
    bool walk(od::object object, bool formatted) {
        bool kept_before = false;
        for (auto member : object) {
            od::field field;
            if (std::move(member).get(field)) return false;
            // the key's opening quote (read before unescaping, which uses the key up)
            const char* quote = field.key().raw() - 1;
            std::string_view name;
            if (field.unescaped_key().get(name)) return false;
            if (name.starts_with(prefix_) && (keep_.empty() || name != keep_)) {
                const auto from = static_cast<std::size_t>(quote - text_.data());
                std::string_view value;
                if (value_text(field.value()).get(value)) return false;
                cut(from, static_cast<std::size_t>(value.data() + value.size() - text_.data()),
                    kept_before);
                continue;
            }
            kept_before = true;
            if (formatted && name == "_formatted") {
                od::object inner;
                if (!field.value().get_object().get(inner) && !walk(inner, false)) return false;
            }
        }
        return true;
    }

    std::string apply(std::string answer) const {
        if (cuts_.empty()) return answer;
        std::string out;
        out.reserve(answer.size());
        std::size_t at = 0;
        for (const auto& [from, to] : cuts_) {
            out.append(answer, at, from - at);
            at = to;
        }
        out.append(answer, at, std::string::npos);
        return out;
    }

  private:
    // The whole text of a value: an object or array from its bracket to the closing one.
    static simdjson::simdjson_result<std::string_view> value_text(od::value value) {
        od::json_type type;
        if (auto error = value.type().get(type)) return error;
        if (type == od::json_type::object) {
            od::object object;
            if (auto error = value.get_object().get(object)) return error;
            return object.raw_json();
        }
        if (type == od::json_type::array) {
            od::array array;
            if (auto error = value.get_array().get(array)) return error;
            return array.raw_json();
        }
        return value.raw_json_token();
    }

    void cut(std::size_t from, std::size_t to, bool kept_before) {
        if (kept_before) {
            auto at = from;
            while (at > 0 && is_space(text_[at - 1])) --at;
            if (at > 0 && text_[at - 1] == ',') from = at - 1;
        } else {
            auto at = to;
            while (at < text_.size() && is_space(text_[at])) ++at;
            if (at < text_.size() && text_[at] == ',') to = at + 1;
        }
        cuts_.emplace_back(from, to);
    }

    std::string_view text_;
    std::string_view prefix_;
    std::string_view keep_;
    std::vector<Cut> cuts_;
};

}  // namespace

std::optional<std::string> scrub_search_answer(std::string answer, std::string_view prefix,
                                               std::string_view keep) {
    answer.reserve(answer.size() + simdjson::SIMDJSON_PADDING);
    od::parser parser;
    od::document doc;
    if (parser.iterate(answer.data(), answer.size(), answer.capacity()).get(doc)) {
        return std::nullopt;
    }
    od::object top;
    if (doc.get_object().get(top)) return std::nullopt;
    Scrubber scrubber(answer, prefix, keep);
    for (auto member : top) {
        od::field field;
        std::string_view name;
        if (std::move(member).get(field) || field.unescaped_key().get(name)) return std::nullopt;
        if (name == "hits") {
            od::array hits;
            if (field.value().get_array().get(hits)) continue;
            for (auto element : hits) {
                od::object hit;
                if (element.get_object().get(hit)) continue;
                if (!scrubber.walk(hit, true)) return std::nullopt;
            }
        } else if (name == "facetDistribution" || name == "facetStats") {
            od::object facets;
            if (field.value().get_object().get(facets)) continue;
            if (!scrubber.walk(facets, false)) return std::nullopt;
        }
    }
    return scrubber.apply(std::move(answer));
}

namespace {

// The items of one backquoted list without the reserved ones ("a, _miroir_x, b" → "a, b").
std::string without_reserved(std::string_view list, std::string_view prefix) {
    std::string out;
    std::size_t at = 0;
    while (at <= list.size()) {
        auto end = list.find(", ", at);
        if (end == std::string_view::npos) end = list.size();
        const auto item = list.substr(at, end - at);
        if (!item.starts_with(prefix)) {
            if (!out.empty()) out += ", ";
            out += item;
        }
        at = end + 2;
    }
    return out;
}

// "Available filterable attributes patterns are: " (or "attribute patterns", as the filter
// error writes it) → "filterable attributes", the words Meilisearch uses when an index has none.
std::string kind_of(std::string_view lead) {
    constexpr std::string_view kAvailable = "Available ";
    const auto start = lead.rfind(kAvailable);
    if (start == std::string_view::npos) return {};
    auto kind = lead.substr(start + kAvailable.size());
    for (std::string_view tail : {" patterns are: ", " are: "}) {
        if (!kind.ends_with(tail)) continue;
        std::string out(kind.substr(0, kind.size() - tail.size()));
        if (out.ends_with("attribute")) out += 's';
        return out;
    }
    return {};
}

}  // namespace

std::string scrub_error_message(std::string message, std::string_view prefix) {
    if (message.find(prefix) == std::string::npos) return message;
    std::string out;
    out.reserve(message.size());
    std::size_t at = 0;
    while (at < message.size()) {
        const auto open = message.find('`', at);
        const auto close = open == std::string::npos ? open : message.find('`', open + 1);
        if (close == std::string::npos) break;
        const std::string_view inside(message.data() + open + 1, close - open - 1);
        std::string kept = inside.find(prefix) == std::string_view::npos
                               ? std::string(inside)
                               : without_reserved(inside, prefix);
        if (!kept.empty()) {
            out.append(message, at, open - at);
            out += '`' + kept + '`';
            at = close + 1;
            continue;
        }
        // the whole list was reserved names: as one item of a list of quoted names
        // ("`a`, `_miroir_x`") it goes with its separator
        std::string before = message.substr(at, open - at);
        auto after = close + 1;
        if (before.ends_with(", ")) {
            before.resize(before.size() - 2);
        } else if (message.compare(after, 2, ", ") == 0) {
            after += 2;
        } else if (const auto kind = kind_of(before); !kind.empty()) {
            // the attributes a query may use: none once the reserved ones are gone
            const auto lead = before.rfind("Available ");
            out.append(before, 0, lead);
            out += "This index does not have configured " + kind;
            at = after;
            continue;
        }
        out += before;
        at = after;
    }
    out.append(message, at, std::string::npos);
    return out;
}

}  // namespace miroir::merge
