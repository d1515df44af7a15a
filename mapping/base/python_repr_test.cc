#include "mapping/base/python_repr.h"

#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

TEST(PythonReprTest, StringsQuoteAsPythonDoes) {
  EXPECT_EQ(PythonStrRepr("re:.*q_proj$"), "'re:.*q_proj$'");
  EXPECT_EQ(PythonStrRepr("it's"), "\"it's\"");
  EXPECT_EQ(PythonStrRepr("both ' and \""), "'both \\' and \"'");
  EXPECT_EQ(PythonStrRepr("a\\b\n"), "'a\\\\b\\n'");
  EXPECT_EQ(PythonOptionalStrRepr(absl::nullopt), "None");
}

TEST(PythonReprTest, Containers) {
  const std::vector<std::string> items = {"lm_head", "re:.*gate$"};
  EXPECT_EQ(PythonListRepr(items), "['lm_head', 're:.*gate$']");
  EXPECT_EQ(PythonSetRepr(items), "{'lm_head', 're:.*gate$'}");
  EXPECT_EQ(PythonSetRepr({}), "set()");
  EXPECT_EQ(PythonListRepr({}), "[]");
  EXPECT_EQ(PythonIntListRepr(std::vector<int>{128, 128}), "[128, 128]");
}

TEST(PythonReprTest, FloatsAreShortestRoundTrip) {
  EXPECT_EQ(PythonFloatRepr(1), "1.0");
  EXPECT_EQ(PythonFloatRepr(0.1), "0.1");
  EXPECT_EQ(PythonFloatRepr(1e-6), "1e-06");
  EXPECT_EQ(PythonFloatRepr(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(PythonFloatRepr(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(PythonReprTest, YamlScalarsAsSafeLoadGivesThem) {
  EXPECT_EQ(PythonYamlScalarRepr("0.5"), "0.5");
  EXPECT_EQ(PythonYamlScalarRepr("TRUE"), "True");
  EXPECT_EQ(PythonYamlScalarRepr("~"), "None");
  EXPECT_EQ(PythonYamlScalarRepr("mse"), "'mse'");
}

}  // namespace
}  // namespace mapping
}  // namespace wring
