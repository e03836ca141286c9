#include <miroir/merge/performance.hpp>
#include <miroir/util/time.hpp>

namespace miroir::merge {

using json = nlohmann::ordered_json;

namespace {

// The largest duration an answer's details report (its whole search, as a node nests steps).
double longest(const json& details) {
    double most = -1;
    for (const auto& [step, took] : details.items()) {
        if (!took.is_string()) continue;
        if (const auto ns = util::parse_debug_duration(took.get<std::string>())) {
            most = std::max(most, *ns);
        }
    }
    return most;
}

}  // namespace

json performance_details(const std::vector<TimedStep>& steps, const std::vector<json>& answers,
                         const std::vector<std::string>& labels) {
    json out = json::object();
    std::chrono::nanoseconds total{0};
    for (const auto& s : steps) {
        out["miroir > " + s.name] = util::debug_duration(s.took);
        total += s.took;
    }
    out["miroir"] = util::debug_duration(total);
    const json* slowest = nullptr;
    std::size_t who = 0;
    double most = -1;
    for (std::size_t i = 0; i < answers.size() && i < labels.size(); ++i) {
        const auto it =
            answers[i].is_object() ? answers[i].find("performanceDetails") : answers[i].end();
        if (it == answers[i].end() || !it->is_object()) continue;
        if (const double took = longest(*it); took > most) {
            most = took, slowest = &*it, who = i;
        }
    }
    if (slowest) {
        for (const auto& [step, took] : slowest->items()) {
            out[labels[who] + " > " + step] = took;
        }
    }
    return out;
}

}  // namespace miroir::merge
