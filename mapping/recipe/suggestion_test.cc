#include "mapping/recipe/suggestion.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

TEST(EditDistanceTest, CountsInsertDeleteSubstituteIgnoringCase) {
  EXPECT_EQ(EditDistanceIgnoringCase("", ""), 0);
  EXPECT_EQ(EditDistanceIgnoringCase("abc", ""), 3);
  EXPECT_EQ(EditDistanceIgnoringCase("AWQModifer", "AWQModifier"), 1);
  EXPECT_EQ(EditDistanceIgnoringCase("awqmodifier", "AWQModifier"), 0);
  EXPECT_EQ(EditDistanceIgnoringCase("kitten", "sitting"), 3);
  EXPECT_EQ(EditDistanceIgnoringCase("sitting", "kitten"), 3);
}

TEST(EditDistanceTest, SwappedNeighboursAreOneEdit) {
  EXPECT_EQ(EditDistanceIgnoringCase("W4A61", "W4A16"), 1);
  EXPECT_EQ(EditDistanceIgnoringCase("duo_scailng", "duo_scaling"), 1);
  EXPECT_EQ(EditDistanceIgnoringCase("ab", "ba"), 1);
  EXPECT_EQ(ClosestName("W4A61", {"W4A4", "W4A16"}).value_or(""), "W4A16");
}

TEST(ClosestNameTest, PicksTheNearestPlausibleName) {
  const std::vector<std::string> modifiers = {"AWQModifier", "GPTQModifier",
                                              "QuantizationModifier"};
  EXPECT_EQ(ClosestName("AWQModifer", modifiers).value_or(""), "AWQModifier");
  EXPECT_EQ(ClosestName("GPTQmodifier", modifiers).value_or(""), "GPTQModifier");
  EXPECT_EQ(ClosestName("QuantizationModifer", modifiers).value_or(""),
            "QuantizationModifier");
  EXPECT_FALSE(ClosestName("SomethingElse", modifiers).has_value());
}

TEST(ClosestNameTest, ShortWordsNeedCloseMatches) {
  const std::vector<std::string> keys = {"end", "start", "index"};
  EXPECT_EQ(ClosestName("ned", keys).value_or(""), "end");
  EXPECT_FALSE(ClosestName("xyz", keys).has_value());
}

TEST(ClosestNameTest, TiesGoToTheEarlierCandidate) {
  EXPECT_EQ(ClosestName("ab", {"ax", "xb"}).value_or(""), "ax");
}

TEST(DidYouMeanTest, FormatsOrIsEmpty) {
  EXPECT_EQ(DidYouMean("duo_scailng", {"duo_scaling", "n_grid"}),
            "did you mean 'duo_scaling'?");
  EXPECT_EQ(DidYouMean("zzzzzzzz", {"duo_scaling", "n_grid"}), "");
}

}  // namespace
}  // namespace mapping
}  // namespace wring
