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
    Scrubber(std::string_view text, std::string_view prefix) : text_(text), prefix_(prefix) {}

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
            if (name.starts_with(prefix_)) {
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
    std::vector<Cut> cuts_;
};

}  // namespace

std::optional<std::string> scrub_search_answer(std::string answer, std::string_view prefix) {
    answer.reserve(answer.size() + simdjson::SIMDJSON_PADDING);
    od::parser parser;
    od::document doc;
    if (parser.iterate(answer.data(), answer.size(), answer.capacity()).get(doc)) {
        return std::nullopt;
    }
    od::object top;
    if (doc.get_object().get(top)) return std::nullopt;
    Scrubber scrubber(answer, prefix);
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

}  // namespace miroir::merge
