#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>

#include <miroir/util/size.hpp>

namespace miroir::util {

std::string human_size(std::uint64_t bytes) {
    static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    std::size_t unit = 0;
    while (unit + 1 < std::size(units) && bytes >= (std::uint64_t{1} << (10 * (unit + 1)))) {
        ++unit;
    }
    const double value =
        static_cast<double>(bytes) / static_cast<double>(std::uint64_t{1} << (10 * unit));
    char text[64];
    std::snprintf(text, sizeof text, "%.2f", std::round(value * 100) / 100);
    std::string out = text;
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
    return out + " " + units[unit];
}

std::optional<std::uint64_t> parse_human_size(const std::string& text) {
    static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    const auto space = text.find(' ');
    if (space == std::string::npos || space == 0) return std::nullopt;
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + space || value < 0) return std::nullopt;
    const auto unit = text.substr(space + 1);
    for (std::size_t i = 0; i < std::size(units); ++i) {
        if (unit == units[i]) {
            return static_cast<std::uint64_t>(
                std::llround(value * static_cast<double>(std::uint64_t{1} << (10 * i))));
        }
    }
    return std::nullopt;
}

}  // namespace miroir::util
