#include <gtest/gtest.h>

#include <miroir/merge/performance.hpp>
#include <miroir/util/time.hpp>

using miroir::util::debug_duration;
using miroir::util::parse_debug_duration;
using std::chrono::nanoseconds;
using json = nlohmann::ordered_json;

// The texts Rust's `format!("{:.2?}", duration)` gives, as Meilisearch's performanceDetails show.
TEST(DebugDuration, WritesRustsDebugFormWithTwoDecimals) {
    EXPECT_EQ(debug_duration(nanoseconds(0)), "0.00ns");
    EXPECT_EQ(debug_duration(nanoseconds(512)), "512.00ns");
    EXPECT_EQ(debug_duration(nanoseconds(43'540)), "43.54µs");
    EXPECT_EQ(debug_duration(nanoseconds(43'545)), "43.55µs");  // third decimal rounds half up
    EXPECT_EQ(debug_duration(nanoseconds(43'544)), "43.54µs");
    EXPECT_EQ(debug_duration(nanoseconds(1'570'000)), "1.57ms");
    EXPECT_EQ(debug_duration(nanoseconds(999'999)), "1000.00µs");  // the carry keeps the unit
    EXPECT_EQ(debug_duration(nanoseconds(2'000'000'000)), "2.00s");
    EXPECT_EQ(debug_duration(nanoseconds(2'345'678'901)), "2.35s");
}

TEST(DebugDuration, ParsesWhatItWrites) {
    EXPECT_DOUBLE_EQ(*parse_debug_duration("43.54µs"), 43'540);
    EXPECT_DOUBLE_EQ(*parse_debug_duration("1.57ms"), 1'570'000);
    EXPECT_DOUBLE_EQ(*parse_debug_duration("2.00s"), 2e9);
    EXPECT_DOUBLE_EQ(*parse_debug_duration("512.00ns"), 512);
    EXPECT_FALSE(parse_debug_duration("fast"));
    EXPECT_FALSE(parse_debug_duration("3 days"));
}

TEST(PerformanceDetails, MiroirStepsThenTheSlowestNodesSteps) {
    std::vector<json> answers(3);
    answers[0]["performanceDetails"] = {{"search > format", "20.00µs"}, {"search", "1.20ms"}};
    answers[1] = nullptr;  // no answer
    answers[2]["performanceDetails"] = {{"search > format", "30.00µs"}, {"search", "3.40ms"}};
    const std::vector<miroir::merge::TimedStep> steps{{"scatter", nanoseconds(4'000'000)},
                                                      {"merge", nanoseconds(250'000)}};
    const auto out =
        miroir::merge::performance_details(steps, answers, {"node a", "node b", "node c"});
    const json expected = {{"miroir > scatter", "4.00ms"},
                           {"miroir > merge", "250.00µs"},
                           {"miroir", "4.25ms"},
                           {"node c > search > format", "30.00µs"},
                           {"node c > search", "3.40ms"}};
    EXPECT_EQ(out, expected);
}

TEST(PerformanceDetails, NoNodeDetailsLeavesMiroirsAlone) {
    std::vector<json> answers(1, json::object());
    const auto out =
        miroir::merge::performance_details({{"merge", nanoseconds(10)}}, answers, {"node a"});
    const json expected = {{"miroir > merge", "10.00ns"}, {"miroir", "10.00ns"}};
    EXPECT_EQ(out, expected);
}
