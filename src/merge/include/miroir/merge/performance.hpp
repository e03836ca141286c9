// `performanceDetails` of an answer merged from several nodes: Miroir's own steps, then the
// steps of the slowest node (the one that held the answer back), each named after its node.
// Durations are written as Meilisearch writes them (util::debug_duration). Pure, no I/O.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace miroir::merge {

// Miroir's part of a merged search: one named step each, in the order they ran.
struct TimedStep {
    std::string name;
    std::chrono::nanoseconds took{0};
};

// The merged `performanceDetails`: `steps` under "miroir > ", their total as "miroir", then the
// entries of the slowest answer (the largest duration it reports), each under "<label> > "
// ("node n1", "query 0"). `answers[i]` is `labels[i]`'s; answers without details are skipped.
nlohmann::ordered_json performance_details(const std::vector<TimedStep>& steps,
                                           const std::vector<nlohmann::ordered_json>& answers,
                                           const std::vector<std::string>& labels);

}  // namespace miroir::merge
