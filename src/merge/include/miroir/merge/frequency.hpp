// `matchingStrategy: frequency` over a sharded index. A node drops the query's words most
// frequent first, counting how many of its own documents hold each word (and the concatenated
// words that contain it; a word none holds counts as the most frequent; equal counts are
// dropped together: `removal_order_for_terms_matching_strategy_frequency` in milli). Each node
// counts only its share, so nodes drop different words. When the counts over the whole index
// rise strictly from the first word to the last, the words are dropped from the end one by
// one, which is what `last` does: the search goes to the nodes as `last` and is exact. Pure,
// no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace miroir::merge {

// The words of `q` when Miroir can count them as a node does: 2 to 10 words, each of letters
// (ASCII or Latin, U+00C0–U+024F) or of digits, separated by spaces; empty otherwise (a
// phrase, a negated word, punctuation, a script split otherwise).
std::vector<std::string> plain_words(std::string_view q);

// The queries whose totals count what a node counts: each word alone, then each concatenation
// of 2 and of 3 adjacent words. Searched alone, a concatenation of two words also matches
// those two words side by side (a split), which a node does not count for it: its probe
// excludes that phrase (documents holding it hold both words anyway). Each probe ends with a
// space (so its last word is no prefix) unless it holds the query's last word and `q` ends in
// that word.
std::vector<std::string> frequency_probes(const std::vector<std::string>& words,
                                          bool last_is_prefix);

// Whether `frequency` drops the words as `last` does, from the probes' totals over the whole
// index (in the order frequency_probes gives them, for `words` words): no document holds a
// concatenation, and the words' counts, none counting as the most, rise strictly.
bool frequency_drops_as_last(const std::vector<std::uint64_t>& totals, std::size_t words);

}  // namespace miroir::merge
