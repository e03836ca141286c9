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

}  // namespace devnode
