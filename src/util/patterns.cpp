#include <miroir/util/patterns.hpp>

namespace miroir::util {

bool index_allows(const std::vector<std::string>& patterns, std::string_view uid) {
    for (const std::string_view p : patterns) {
        if (p == "*" || p == uid) return true;
        if (p.ends_with('*') && uid.starts_with(p.substr(0, p.size() - 1))) return true;
    }
    return false;
}

}  // namespace miroir::util
