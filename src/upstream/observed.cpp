#include <algorithm>
#include <cmath>

#include <miroir/upstream/observed.hpp>

namespace miroir::upstream {

NodeObservations::NodeObservations(std::size_t nodes, double half_life_ms)
    : half_life_ms_(half_life_ms), nodes_(nodes) {}

void NodeObservations::started(std::size_t node) {
    std::lock_guard lock(mutex_);
    ++nodes_.at(node).o.in_flight;
}

void NodeObservations::finished(std::size_t node, double latency_ms, bool ok, std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    auto& n = nodes_.at(node);
    if (n.o.in_flight) --n.o.in_flight;
    // weight of the new sample: half of the old value's weight is gone after a half-life
    const double elapsed =
        n.o.samples ? static_cast<double>(std::max<std::int64_t>(now_ms - n.updated_at, 1))
                    : half_life_ms_ * 64;
    const double alpha = 1 - std::exp2(-elapsed / half_life_ms_);
    n.updated_at = now_ms;
    n.o.error_rate += alpha * ((ok ? 0.0 : 1.0) - n.o.error_rate);
    if (ok) {
        n.o.latency_ms =
            n.o.samples ? n.o.latency_ms + alpha * (latency_ms - n.o.latency_ms) : latency_ms;
        ++n.o.samples;
        n.recent[n.next] = latency_ms;
        n.next = (n.next + 1) % kWindow;
        n.filled = std::min(n.filled + 1, kWindow);
    }
}

Observation NodeObservations::get(std::size_t node) const {
    std::lock_guard lock(mutex_);
    const auto& n = nodes_.at(node);
    Observation o = n.o;
    if (n.filled >= 20) {
        std::array<double, kWindow> sorted = n.recent;
        const auto end = sorted.begin() + static_cast<std::ptrdiff_t>(n.filled);
        const auto at = static_cast<std::ptrdiff_t>((n.filled * 95) / 100);
        std::nth_element(sorted.begin(), sorted.begin() + at, end);
        o.p95_ms = sorted[static_cast<std::size_t>(at)];
    }
    return o;
}

HedgeBudget::HedgeBudget(double fraction, double burst)
    : fraction_(fraction), burst_(burst), tokens_(fraction > 0 ? 1 : 0) {}

void HedgeBudget::deposit() {
    std::lock_guard lock(mutex_);
    tokens_ = std::min(burst_, tokens_ + fraction_);
}

bool HedgeBudget::take() {
    std::lock_guard lock(mutex_);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
}

}  // namespace miroir::upstream
