// What reads observe of each node — latency, requests in flight, errors — for adaptive replica
// selection and the hedging delay, and the budget that bounds hedged reads. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <vector>

namespace miroir::upstream {

struct Observation {
    double latency_ms = 0;  // EWMA of answered reads
    double error_rate = 0;  // EWMA of failures (1) and answers (0)
    std::uint32_t in_flight = 0;
    std::uint64_t samples = 0;
    double p95_ms = 0;  // over the last answered reads; 0 before enough of them
};

class NodeObservations {
  public:
    NodeObservations(std::size_t nodes, double half_life_ms);

    void started(std::size_t node);
    void finished(std::size_t node, double latency_ms, bool ok, std::int64_t now_ms);
    Observation get(std::size_t node) const;

  private:
    static constexpr std::size_t kWindow = 128;
    struct Node {
        Observation o;
        std::int64_t updated_at = 0;
        std::array<double, kWindow> recent{};
        std::size_t next = 0, filled = 0;
    };
    mutable std::mutex mutex_;
    double half_life_ms_;
    std::vector<Node> nodes_;
};

// A token bucket fed by reads: each read adds `fraction` of a token (up to `burst` tokens),
// each hedge takes one. Hedges therefore stay under `fraction` of reads, with a small burst.
class HedgeBudget {
  public:
    HedgeBudget(double fraction, double burst = 10);
    void deposit();
    bool take();

  private:
    std::mutex mutex_;
    double fraction_, burst_, tokens_;
};

}  // namespace miroir::upstream
