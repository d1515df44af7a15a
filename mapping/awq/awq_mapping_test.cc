#include "mapping/awq/awq_mapping.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "mapping/awq/dynamic_mappings.h"

namespace wring {
namespace mapping {
namespace {

TEST(AwqRegistryTest, DataLoadsWithEveryListNamedOnce) {
  const auto& lists = AwqMappingLists();
  ASSERT_FALSE(lists.empty());
  std::set<std::string> names;
  for (const AwqMappingList& list : lists) {
    EXPECT_TRUE(names.insert(list.name).second) << list.name;
    EXPECT_FALSE(list.mappings.empty()) << list.name;
    for (const AwqMapping& m : list.mappings) {
      EXPECT_FALSE(m.smooth_layer.empty()) << list.name;
      EXPECT_FALSE(m.balance_layers.empty()) << list.name;
    }
  }
  EXPECT_EQ(DefaultAwqMappings().name, "default_mappings");
}

TEST(AwqRegistryTest, LookupByArchitecture) {
  const AwqMappingList* llama = FindRegisteredAwqMappings("LlamaForCausalLM");
  ASSERT_NE(llama, nullptr);
  EXPECT_EQ(llama->name, "default_mappings");
  EXPECT_EQ(FindRegisteredAwqMappings("NotAModelForCausalLM"), nullptr);
  // Case matters: the registry is keyed by the class name.
  EXPECT_EQ(FindRegisteredAwqMappings("llamaforcausallm"), nullptr);
  auto entries = AwqRegistryEntries();
  ASSERT_GT(entries.size(), 30u);
  for (size_t i = 1; i < entries.size(); ++i) EXPECT_LT(entries[i - 1].first, entries[i].first);
}

// The architectures llm-compressor 0.14 added to its registry, with the
// lists its source assigns them.
TEST(AwqRegistryTest, RegistersTheArchitecturesOfTheCurrentRelease) {
  struct Case {
    const char* architecture;
    const char* list;
  } cases[] = {
      {"Cohere2MoeForCausalLM", "_cohere2_moe_mappings"},
      {"DeepseekV2ForCausalLM", "_glm4_moe_lite_mappings"},
      {"MuseGlimmerForConditionalGeneration", "_muse_glimmer_mappings"},
      {"Qwen2_5_VLForConditionalGeneration", "_qwen2_5_vl_mappings"},
  };
  for (const Case& c : cases) {
    const AwqMappingList* list = FindRegisteredAwqMappings(c.architecture);
    ASSERT_NE(list, nullptr) << c.architecture;
    EXPECT_EQ(list->name, c.list) << c.architecture;
  }
}

TEST(AwqRegistryTest, EveryDynamicBuilderIsImplemented) {
  ASSERT_FALSE(DynamicAwqRegistry().empty());
  for (const auto& [architecture, builder] : DynamicAwqRegistry()) {
    EXPECT_TRUE(IsImplementedDynamicAwqBuilder(builder))
        << architecture << " is built by " << builder
        << " upstream; implement it in mapping/awq/dynamic_mappings.cc";
    EXPECT_TRUE(HasDynamicAwqBuilder(architecture));
  }
  EXPECT_EQ(DynamicAwqBuilderName("Step3p5ForCausalLM"), std::string(kStep3p5Builder));
  EXPECT_FALSE(DynamicAwqBuilderName("LlamaForCausalLM").has_value());
  EXPECT_TRUE(absl::StrContains(Step3p5FfnLayerPattern(), "share_expert"));
}

TEST(AwqRegistryTest, ReprIsTheDataclassRepr) {
  AwqMapping m{"re:.*v_proj$", {"re:.*o_proj$"}, absl::nullopt};
  EXPECT_EQ(AwqMappingRepr(m),
            "AWQMapping(smooth_layer='re:.*v_proj$', balance_layers=['re:.*o_proj$'], "
            "activation_hook_target=None)");
  m.activation_hook_target = "mlp";
  EXPECT_TRUE(absl::EndsWith(AwqMappingRepr(m), "activation_hook_target='mlp')"));
}

}  // namespace
}  // namespace mapping
}  // namespace wring
