// Node health states, read observations and the hedge budget.
#include <gtest/gtest.h>

#include <miroir/upstream/health.hpp>
#include <miroir/upstream/observed.hpp>

namespace miroir::upstream {
namespace {

TEST(HealthTable, FailedProbesMakeANodeSuspectThenDown) {
    HealthTable table(2, {3, 2});
    EXPECT_EQ(table.state(0), NodeState::healthy);
    EXPECT_TRUE(table.record_probe(0, false, 0, 1));
    EXPECT_EQ(table.state(0), NodeState::suspect);
    EXPECT_FALSE(table.record_probe(0, false, 0, 2));
    EXPECT_TRUE(table.usable(0));
    EXPECT_TRUE(table.record_probe(0, false, 0, 3));
    EXPECT_EQ(table.state(0), NodeState::down);
    EXPECT_FALSE(table.usable(0));
    EXPECT_EQ(table.get(0).changed_at, 3);
    EXPECT_EQ(table.state(1), NodeState::healthy);  // the other node is untouched
}

TEST(HealthTable, ADownNodeNeedsTheRecoveryThreshold) {
    HealthTable table(1, {1, 2});
    table.record_probe(0, false, 0, 1);
    ASSERT_EQ(table.state(0), NodeState::down);
    EXPECT_FALSE(table.record_probe(0, true, 3.5, 2));
    EXPECT_EQ(table.state(0), NodeState::down);
    EXPECT_TRUE(table.record_probe(0, true, 2.5, 3));
    EXPECT_EQ(table.state(0), NodeState::healthy);
    EXPECT_DOUBLE_EQ(table.get(0).probe_ms, 2.5);
}

TEST(HealthTable, AFailedReadMakesAHealthyNodeSuspectUntilItsNextGoodProbe) {
    HealthTable table(1, {3, 2});
    EXPECT_TRUE(table.record_failure(0, 1));
    EXPECT_EQ(table.state(0), NodeState::suspect);
    EXPECT_FALSE(table.record_failure(0, 2));
    EXPECT_TRUE(table.record_probe(0, true, 1, 3));
    EXPECT_EQ(table.state(0), NodeState::healthy);
}

TEST(NodeObservations, LatencyErrorsInFlightAndP95) {
    NodeObservations observed(1, 1000);
    observed.started(0);
    observed.started(0);
    EXPECT_EQ(observed.get(0).in_flight, 2u);
    observed.finished(0, 10, true, 1000);
    EXPECT_DOUBLE_EQ(observed.get(0).latency_ms, 10);  // the first sample is the average
    observed.finished(0, 0, false, 2000);              // a failure a half-life later
    EXPECT_EQ(observed.get(0).in_flight, 0u);
    EXPECT_NEAR(observed.get(0).error_rate, 0.5, 1e-9);
    EXPECT_DOUBLE_EQ(observed.get(0).p95_ms, 0);  // not enough samples yet
    for (int i = 1; i <= 100; ++i) observed.finished(0, i, true, 2000 + i);
    EXPECT_NEAR(observed.get(0).p95_ms, 96, 1.0);
}

TEST(HedgeBudget, HedgesStayUnderTheFractionOfReads) {
    HedgeBudget budget(0.1, 10);
    int hedges = 0;
    for (int read = 0; read < 1000; ++read) {
        budget.deposit();
        if (budget.take()) ++hedges;
    }
    EXPECT_GE(hedges, 95);
    EXPECT_LE(hedges, 102);
    HedgeBudget none(0);
    none.deposit();
    EXPECT_FALSE(none.take());
}

}  // namespace
}  // namespace miroir::upstream
