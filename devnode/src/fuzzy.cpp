// Typo-tolerant matching: the distance of two words and the walk of a sorted dictionary.
#include "fuzzy.hpp"

#include <cstdlib>

namespace devnode {

int distance(std::string_view a, std::string_view b, int bound) {
    if (std::abs(static_cast<int>(a.size()) - static_cast<int>(b.size())) > bound) return bound + 1;
    const std::size_t w = b.size() + 1;
    thread_local std::vector<int> d;
    d.assign((a.size() + 1) * w, 0);
    for (std::size_t j = 0; j <= b.size(); ++j) d[j] = static_cast<int>(j);
    for (std::size_t i = 1; i <= a.size(); ++i) {
        d[i * w] = static_cast<int>(i);
        int row_min = d[i * w];
        for (std::size_t j = 1; j <= b.size(); ++j) {
            int v = std::min({d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1,
                              d[(i - 1) * w + j - 1] + (a[i - 1] != b[j - 1])});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                v = std::min(v, d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
            row_min = std::min(row_min, v);
        }
        if (row_min > bound) return bound + 1;
    }
    return d[a.size() * w + b.size()];
}

// How a dictionary word matches a term: typos, or -1.
int match_word(const Term& t, std::string_view word) {
    if (word == t.word) return 0;
    if (t.prefix && word.starts_with(t.word)) return 0;
    if (t.allowed_typos == 0) return -1;
    int d = distance(word, t.word, t.allowed_typos);
    if (d <= t.allowed_typos) return d;
    if (t.prefix && word.size() > t.word.size()) {
        d = distance(word.substr(0, t.word.size()), t.word, t.allowed_typos);
        if (d <= t.allowed_typos) return d;
    }
    return -1;
}

namespace {

// A term without typos: the words equal to it (or, for a prefix term, starting with it) are one
// run of the sorted lexicon, found by binary search.
void match_exactly(const Term& t, const Lexicon& dict, const EmitMatch& emit) {
    const std::string_view term = t.word;
    const std::size_t n = dict.size();
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
}

// The walk of a sorted lexicon for a term with typos. Row d of the table is the current word's
// prefix of length d against the term; rows up to `valid_` hold prefixes of the word visited
// before, so a word recomputes only the rows past what it shares with that word.
class DictionaryWalk {
  public:
    DictionaryWalk(const Term& t, const Lexicon& dict, const EmitMatch& emit)
        : term_(t.word),
          prefix_(t.prefix),
          k_(t.allowed_typos),
          m_(term_.size()),
          stride_(m_ + 1),
          dict_(dict),
          emit_(emit),
          cells_(stride_),
          row_min_(1, 0) {
        for (std::size_t j = 0; j <= m_; ++j) cells_[j] = static_cast<int>(j);
    }

    void run() {
        std::size_t i = 0;
        while (i < dict_.size()) i = visit(i);
    }

  private:
    int& at(std::size_t d, std::size_t j) { return cells_[d * stride_ + j]; }

    // The end of the block of words from `i` on that start with the first `d` characters of
    // word i.
    std::size_t block_end(std::size_t i, std::size_t d) const {
        std::size_t end = i + 1;
        while (end < dict_.size() && dict_.shared(end) >= d) ++end;
        return end;
    }

    // Matches word i, or the block of words it starts; returns the next word to visit.
    std::size_t visit(std::size_t i) {
        const std::string_view w = dict_[i];
        // the word before i is the last one visited, or the first of a block skipped: either
        // way it shares dict.shared(i) characters with word i
        const std::size_t depth = std::min(valid_, dict_.shared(i));
        if (row_min_.size() < w.size() + 1) {
            cells_.resize((w.size() + 1) * stride_);
            row_min_.resize(w.size() + 1);
        }
        for (std::size_t d = depth + 1; d <= w.size(); ++d) {
            if (prefix_ && d > m_ + static_cast<std::size_t>(k_) && at(m_, m_) <= k_) {
                return emit_stem_block(i, d, w);
            }
            fill_row(d, w);
            // no longer word can come back within k (a transposition reaches two rows back);
            // a prefix term still matches through its own depth's row
            const bool prefix_alive = prefix_ && d > m_ && at(m_, m_) <= k_;
            if (d >= 2 && row_min_[d] > k_ && row_min_[d - 1] >= k_ && !prefix_alive) {
                valid_ = d - 1;
                return block_end(i, d);
            }
        }
        if (const int typos = word_typos(w); typos >= 0) {
            emit_(static_cast<std::uint32_t>(i), typos);
        }
        valid_ = w.size();
        return i + 1;
    }

    // Every longer word under the stem of length d - 1 is too long to match whole: it matches
    // through its prefix, as this stem does. Emits the block; returns its end.
    std::size_t emit_stem_block(std::size_t i, std::size_t d, std::string_view w) {
        const int typos = w.substr(0, d).starts_with(term_) ? 0 : at(m_, m_);
        const std::size_t end = block_end(i, d);
        for (; i < end; ++i) emit_(static_cast<std::uint32_t>(i), typos);
        valid_ = d - 1;
        return end;
    }

    // Computes row d from the rows above it, and its smallest value.
    void fill_row(std::size_t d, std::string_view w) {
        int* row = &at(d, 0);
        const int* up = row - stride_;
        row[0] = static_cast<int>(d);
        int low = row[0];
        // only cells within k of the diagonal can hold k typos or fewer; the others are
        // capped at k + 1, which keeps every value up to k exact
        const std::size_t lo = d > static_cast<std::size_t>(k_) ? d - k_ : 1;
        const std::size_t hi = std::min(m_, d + k_);
        for (std::size_t j = 1; j < lo && j <= m_; ++j) row[j] = k_ + 1;
        for (std::size_t j = hi + 1; j <= m_; ++j) row[j] = k_ + 1;
        for (std::size_t j = lo; j <= hi; ++j) {
            int v = std::min({up[j] + 1, row[j - 1] + 1, up[j - 1] + (w[d - 1] != term_[j - 1])});
            if (d > 1 && j > 1 && w[d - 1] == term_[j - 2] && w[d - 2] == term_[j - 1]) {
                v = std::min(v, at(d - 2, j - 2) + 1);
            }
            v = std::min(v, k_ + 1);
            row[j] = v;
            low = std::min(low, v);
        }
        row_min_[d] = low;
    }

    // The typos of a word whose rows are all computed, or -1.
    int word_typos(std::string_view w) {
        if (prefix_ && w.starts_with(term_)) return 0;
        if (at(w.size(), m_) <= k_) return at(w.size(), m_);
        if (prefix_ && w.size() > m_ && at(m_, m_) <= k_) return at(m_, m_);
        return -1;
    }

    const std::string_view term_;
    const bool prefix_;
    const int k_;
    const std::size_t m_;
    const std::size_t stride_;
    const Lexicon& dict_;
    const EmitMatch& emit_;
    std::vector<int> cells_;
    std::vector<int> row_min_;
    std::size_t valid_ = 0;  // rows[0..valid_] hold prefixes of the word before the current one
};

}  // namespace

void match_dictionary(const Term& t, const Lexicon& dict, const EmitMatch& emit) {
    if (t.allowed_typos == 0) {
        match_exactly(t, dict, emit);
        return;
    }
    DictionaryWalk(t, dict, emit).run();
}

}  // namespace devnode
