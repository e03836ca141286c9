// Typo-tolerant matching of query terms against words: the distance Meilisearch's automata
// allow (a transposition of two neighbours is one typo), a prefix for the query's last word,
// and a walk of a whole sorted dictionary that shares work between neighbouring words.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
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

// Receives each matching word of a lexicon: its id (its place in the lexicon) and its typos.
using EmitMatch = std::function<void(std::uint32_t word, int typos)>;

// Calls `emit(word id, typos)` for every word of the lexicon that matches `t` as match_word()
// decides, without computing each word's distance from scratch: one dynamic-programming row
// per prefix depth is shared by neighbouring words (the sorted lexicon is walked like a trie),
// only the cells within `allowed_typos` of the diagonal are computed, a whole block of words
// sharing a prefix is skipped once that prefix can no longer come within the allowed typos,
// and a prefix term emits a block at once when its words are too long to match whole but
// their stem matches the term.
void match_dictionary(const Term& t, const Lexicon& dict, const EmitMatch& emit);

}  // namespace devnode
