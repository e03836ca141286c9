// Log filters in tracing's `Targets` syntax, read for Miroir's lines.
#include <gtest/gtest.h>

#include <miroir/log/targets.hpp>

namespace miroir::log {
namespace {

Threshold threshold(std::string_view text) {
    auto parsed = parse_targets(text);
    EXPECT_TRUE(std::holds_alternative<Threshold>(parsed)) << text;
    return std::holds_alternative<Threshold>(parsed) ? std::get<Threshold>(parsed) : Threshold{};
}

std::string refusal(std::string_view text) {
    auto parsed = parse_targets(text);
    EXPECT_TRUE(std::holds_alternative<std::string>(parsed)) << text;
    return std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed) : "";
}

TEST(LogTargets, ABareLevelAppliesToEveryTarget) {
    EXPECT_EQ(threshold("info"), Level::info);
    EXPECT_EQ(threshold("WARN"), Level::warn);
    EXPECT_EQ(threshold("trace"), Level::debug);  // Miroir's lowest
    EXPECT_EQ(threshold("1"), Level::error);
    EXPECT_EQ(threshold("off"), std::nullopt);
}

TEST(LogTargets, TheLongestMatchingTargetDecides) {
    EXPECT_EQ(threshold("info,miroir=error"), Level::error);
    EXPECT_EQ(threshold("miroir=error,info"), Level::error);
    EXPECT_EQ(threshold("mir=warn,miroir=debug"), Level::debug);
    EXPECT_EQ(threshold("miroir"), Level::debug);       // a bare target: every level
    EXPECT_EQ(threshold("milli=trace"), std::nullopt);  // nothing matches: off
    EXPECT_EQ(threshold("miroir::http=info"), std::nullopt);
    EXPECT_EQ(threshold("miroir="), Level::error);  // an empty level reads as error
}

TEST(LogTargets, RefusedAsTracingRefusesThem) {
    EXPECT_EQ(refusal("miroir=loud"),
              "error parsing level filter: expected one of \"off\", \"error\", \"warn\", "
              "\"info\", \"debug\", \"trace\", or a number 0-5");
    EXPECT_EQ(refusal("a=b=c"),
              "invalid filter directive: too many '=' in filter directive, expected 0 or 1");
    EXPECT_EQ(refusal("a[{x]=info"),
              "invalid filter directive: expected fields list to end with '}]'");
    EXPECT_NE(refusal("").find("Empty string is not a valid target."), std::string::npos);
}

}  // namespace
}  // namespace miroir::log
