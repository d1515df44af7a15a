#include "mapping/report/layer_ranges.h"

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

TEST(LayerRangesTest, SplitsAtTheDecoderLayerIndex) {
  LayerName n = SplitLayerName("model.layers.12.self_attn.q_proj");
  ASSERT_TRUE(n.layer.has_value());
  EXPECT_EQ(*n.layer, 12);
  EXPECT_EQ(n.prefix, "model.layers.");
  EXPECT_EQ(n.rest, "self_attn.q_proj");
  LayerName vision = SplitLayerName("model.vision_tower.encoder.layers.3.mlp.fc1");
  EXPECT_EQ(vision.prefix, "model.vision_tower.encoder.layers.");
  EXPECT_FALSE(SplitLayerName("lm_head").layer.has_value());
  EXPECT_EQ(SplitLayerName("lm_head").rest, "lm_head");
}

TEST(LayerRangesTest, FormatsRuns) {
  EXPECT_EQ(FormatIndexRanges({0, 1, 2, 3}), "0-3");
  EXPECT_EQ(FormatIndexRanges({3, 7, 11}), "3,7,11");
  EXPECT_EQ(FormatIndexRanges({0, 1, 2, 4, 5, 6, 8}), "0-2,4-6,8");
  EXPECT_EQ(FormatIndexRanges({0, 1}), "0,1");
  EXPECT_EQ(FormatIndexRanges({}), "");
}

TEST(LayerRangesTest, SummarizesNumberedSiblings) {
  std::vector<std::string> names;
  for (int e = 0; e < 4; ++e) names.push_back("mlp.experts." + std::to_string(e) + ".up_proj");
  names.push_back("mlp.shared_expert.up_proj");
  EXPECT_EQ(SummarizeNames(names), "mlp.experts.{0-3}.up_proj (x4),mlp.shared_expert.up_proj");
  EXPECT_EQ(SummarizeNames({"self_attn.q_proj", "self_attn.k_proj"}),
            "self_attn.q_proj,self_attn.k_proj");
}

TEST(LayerRangesTest, CollapsesLinesDifferingInOneRepeatedIndex) {
  std::vector<std::string> lines;
  for (int e = 0; e < 4; ++e) {
    std::string x = std::to_string(e);
    lines.push_back("layers 0-47: mlp.experts." + x + ".up_proj -> mlp.experts." + x +
                    ".down_proj");
  }
  lines.push_back("layers 0-47: mlp.shared_expert.up_proj -> mlp.shared_expert.down_proj");
  EXPECT_EQ(CollapseIndexedLines(lines),
            (std::vector<std::string>{
                "layers 0-47: mlp.experts.{0-3}.up_proj -> mlp.experts.{0-3}.down_proj x4",
                "layers 0-47: mlp.shared_expert.up_proj -> mlp.shared_expert.down_proj"}));
  // Two lines are not worth a range.
  std::vector<std::string> two = {"layers 0: a.0.b", "layers 0: a.1.b"};
  EXPECT_EQ(CollapseIndexedLines(two), two);
}

}  // namespace
}  // namespace mapping
}  // namespace wring
