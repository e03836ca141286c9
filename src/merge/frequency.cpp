#include <limits>

#include <miroir/merge/frequency.hpp>

namespace miroir::merge {

namespace {

constexpr std::size_t kMaxWords = 10;  // Meilisearch reads the first 10 words of a query
constexpr std::size_t kMaxNgram = 3;   // and concatenates at most 3 adjacent ones

enum class Kind { none, letters, digits };

// The kind of the UTF-8 character at `s[i]` (its length in `len`): an ASCII letter or a Latin
// letter of U+00C0–U+024F (not × or ÷), a digit, or anything else.
Kind kind_at(std::string_view s, std::size_t i, std::size_t& len) {
    const auto c = static_cast<unsigned char>(s[i]);
    len = 1;
    if (c >= '0' && c <= '9') return Kind::digits;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return Kind::letters;
    if (c < 0xC3 || c > 0xC9 || i + 1 >= s.size()) return Kind::none;
    const auto next = static_cast<unsigned char>(s[i + 1]);
    if ((next & 0xC0) != 0x80) return Kind::none;
    len = 2;
    const unsigned code = ((c & 0x1Fu) << 6) | (next & 0x3Fu);
    return code >= 0xC0 && code <= 0x24F && code != 0xD7 && code != 0xF7 ? Kind::letters
                                                                         : Kind::none;
}

}  // namespace

std::vector<std::string> plain_words(std::string_view q) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < q.size()) {
        if (q[i] == ' ') {
            ++i;
            continue;
        }
        const std::size_t start = i;
        Kind word = Kind::none;
        while (i < q.size() && q[i] != ' ') {
            std::size_t len = 0;
            const Kind k = kind_at(q, i, len);
            if (k == Kind::none || (word != Kind::none && k != word)) return {};
            word = k;
            i += len;
        }
        words.emplace_back(q.substr(start, i - start));
    }
    if (words.size() < 2 || words.size() > kMaxWords) return {};
    return words;
}

std::vector<std::string> frequency_probes(const std::vector<std::string>& words,
                                          bool last_is_prefix) {
    std::vector<std::string> probes;
    for (std::size_t n = 1; n <= kMaxNgram; ++n) {
        for (std::size_t first = 0; first + n <= words.size(); ++first) {
            std::string probe, phrase;
            for (std::size_t i = first; i < first + n; ++i) {
                probe += words[i];
                phrase += (i == first ? "" : " ") + words[i];
            }
            // a lone word of two splits into those two words, which the concatenation does not
            if (n == 2) probe = "-\"" + phrase + "\" " + probe;
            if (!(last_is_prefix && first + n == words.size())) probe += ' ';
            probes.push_back(std::move(probe));
        }
    }
    return probes;
}

bool frequency_drops_as_last(const std::vector<std::uint64_t>& totals, std::size_t words) {
    if (words < 2 || totals.size() < words) return false;
    for (std::size_t i = words; i < totals.size(); ++i) {
        if (totals[i] != 0) return false;  // a concatenation counts for its words too
    }
    auto count = [&totals](std::size_t i) {
        return totals[i] == 0 ? std::numeric_limits<std::uint64_t>::max() : totals[i];
    };
    for (std::size_t i = 1; i < words; ++i) {
        if (count(i - 1) >= count(i)) return false;
    }
    return true;
}

}  // namespace miroir::merge
