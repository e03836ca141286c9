// Typo-tolerant matching of query terms against words: the distance Meilisearch's automata
// allow (a transposition of two neighbours is one typo), a prefix for the query's last word,
// and a walk of a whole sorted dictionary that shares work between neighbouring words.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace devnode {

// Levenshtein distance where a transposition of two neighbours counts as one typo, with an
// early exit: any value above `bound` is returned as bound + 1.
int distance(std::string_view a, std::string_view b, int bound);

struct Term {
    std::string word;
    bool prefix = false;  // the last word of the query matches as a prefix
    int allowed_typos = 0;
};

// How a dictionary word matches a term: typos, or -1.
int match_word(const Term& t, std::string_view word);

// Words in ascending order, packed for walking: every character in one buffer, and for each
// word how many leading characters it shares with the word before it.
class Lexicon {
  public:
    // Appends a word; words must come in ascending order.
    void push_back(std::string_view word) {
        std::size_t shared = 0;
        if (size() > 0) {
            const std::string_view last = (*this)[size() - 1];
            while (shared < last.size() && shared < word.size() && last[shared] == word[shared])
                ++shared;
        }
        chars_.append(word);
        starts_.push_back(static_cast<std::uint32_t>(chars_.size()));
        shared_.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(shared, 255)));
    }
    std::size_t size() const { return shared_.size(); }
    std::string_view operator[](std::size_t i) const {
        return std::string_view(chars_).substr(starts_[i], starts_[i + 1] - starts_[i]);
    }
    // Leading characters word i shares with word i - 1 (at most 255; 0 for the first word).
    std::size_t shared(std::size_t i) const { return shared_[i]; }

  private:
    std::string chars_;
    std::vector<std::uint32_t> starts_{0};  // word i is chars_[starts_[i], starts_[i + 1])
    std::vector<std::uint8_t> shared_;
};

// Calls `emit(word id, typos)` for every word of the lexicon that matches `t` as match_word()
// decides, without computing each word's distance from scratch: one dynamic-programming row
// per prefix depth is shared by neighbouring words (the sorted lexicon is walked like a trie),
// only the cells within `allowed_typos` of the diagonal are computed, a whole block of words
// sharing a prefix is skipped once that prefix can no longer come within the allowed typos,
// and a prefix term emits a block at once when its words are too long to match whole but
// their stem matches the term.
template <typename Emit>
void match_dictionary(const Term& t, const Lexicon& dict, Emit emit) {
    const std::string_view term = t.word;
    const std::size_t n = dict.size();
    if (t.allowed_typos == 0) {
        std::size_t lo = 0, hi = n;
        while (lo < hi) {
            const std::size_t mid = lo + (hi - lo) / 2;
            if (dict[mid] < term) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for (; lo < n; ++lo) {
            const std::string_view w = dict[lo];
            if (!(w == term || (t.prefix && w.starts_with(term)))) break;
            emit(static_cast<std::uint32_t>(lo), 0);
        }
        return;
    }
    const int k = t.allowed_typos;
    const std::size_t m = term.size();
    // row d (cells [d * (m + 1), (d + 1) * (m + 1)) of `cells`) is the current word's prefix
    // of length d against the term
    const std::size_t stride = m + 1;
    std::vector<int> cells(stride);
    std::vector<int> row_min(1, 0);
    for (std::size_t j = 0; j <= m; ++j) cells[j] = static_cast<int>(j);
    const auto at = [&cells, stride](std::size_t d, std::size_t j) -> int& {
        return cells[d * stride + j];
    };
    // the end of the block of words from `i` on that start with the first `d` characters of
    // word i
    const auto block_end = [&dict, n](std::size_t i, std::size_t d) {
        std::size_t end = i + 1;
        while (end < n && dict.shared(end) >= d) ++end;
        return end;
    };
    std::size_t valid = 0;  // rows[0..valid] hold prefixes of the word before i
    std::size_t i = 0;
    while (i < n) {
        const std::string_view w = dict[i];
        // the word before i is the last one visited, or the first of a block skipped: either
        // way it shares dict.shared(i) characters with word i
        const std::size_t depth = std::min(valid, dict.shared(i));
        if (row_min.size() < w.size() + 1) {
            cells.resize((w.size() + 1) * stride);
            row_min.resize(w.size() + 1);
        }
        bool skipped = false;
        for (std::size_t d = depth + 1; d <= w.size(); ++d) {
            if (t.prefix && d > m + static_cast<std::size_t>(k) && at(m, m) <= k) {
                // every longer word under this stem is too long to match whole: it matches
                // through its prefix, as this stem does
                const int typos = w.substr(0, d).starts_with(term) ? 0 : at(m, m);
                const std::size_t end = block_end(i, d);
                for (; i < end; ++i) emit(static_cast<std::uint32_t>(i), typos);
                valid = d - 1;
                skipped = true;
                break;
            }
            int* row = &at(d, 0);
            const int* up = row - stride;
            row[0] = static_cast<int>(d);
            int low = row[0];
            // only cells within k of the diagonal can hold k typos or fewer; the others are
            // capped at k + 1, which keeps every value up to k exact
            const std::size_t lo = d > static_cast<std::size_t>(k) ? d - k : 1;
            const std::size_t hi = std::min(m, d + k);
            for (std::size_t j = 1; j < lo && j <= m; ++j) row[j] = k + 1;
            for (std::size_t j = hi + 1; j <= m; ++j) row[j] = k + 1;
            for (std::size_t j = lo; j <= hi; ++j) {
                int v =
                    std::min({up[j] + 1, row[j - 1] + 1, up[j - 1] + (w[d - 1] != term[j - 1])});
                if (d > 1 && j > 1 && w[d - 1] == term[j - 2] && w[d - 2] == term[j - 1]) {
                    v = std::min(v, at(d - 2, j - 2) + 1);
                }
                v = std::min(v, k + 1);
                row[j] = v;
                low = std::min(low, v);
            }
            row_min[d] = low;
            // no longer word can come back within k (a transposition reaches two rows back);
            // a prefix term still matches through its own depth's row
            const bool prefix_alive = t.prefix && d > m && at(m, m) <= k;
            if (d >= 2 && low > k && row_min[d - 1] >= k && !prefix_alive) {
                i = block_end(i, d);
                valid = d - 1;
                skipped = true;
                break;
            }
        }
        if (skipped) continue;
        int typos = -1;
        if (t.prefix && w.starts_with(term)) {
            typos = 0;
        } else if (at(w.size(), m) <= k) {
            typos = at(w.size(), m);
        } else if (t.prefix && w.size() > m && at(m, m) <= k) {
            typos = at(m, m);
        }
        if (typos >= 0) emit(static_cast<std::uint32_t>(i), typos);
        valid = w.size();
        ++i;
    }
}

}  // namespace devnode
