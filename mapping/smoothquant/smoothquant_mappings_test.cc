#include "mapping/smoothquant/smoothquant_mappings.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace smoothquant {
namespace {

Json ReadTestdata(const std::string& name) {
  absl::StatusOr<Json> json = ParseJson(
      testing::ReadFileOrFail(testing::RunfilePath("mapping/smoothquant/testdata/" + name)), name);
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *std::move(json) : Json();
}

TEST(SmoothQuantRegistryTest, DataLoadsWithEveryListNamedOnce) {
  std::set<std::string> names;
  for (const LayerMapList& list : SmoothQuantMappingLists()) {
    EXPECT_TRUE(names.insert(list.name).second) << list.name;
    EXPECT_FALSE(list.mappings.empty()) << list.name;
    for (const LayerMap& m : list.mappings) {
      EXPECT_FALSE(m.smooth_layers.empty()) << list.name;
      EXPECT_FALSE(m.balance_layers.empty()) << list.name;
    }
  }
  EXPECT_EQ(DefaultSmoothQuantMappings().name, "DEFAULT_SMOOTHQUANT_MAPPINGS");
  EXPECT_GT(SmoothQuantRegistry().size(), 30u);
}

TEST(SmoothQuantRegistryTest, RegisteredArchitectureGetsItsList) {
  ChosenSmoothQuantMappings mixtral = ChooseSmoothQuantMappings(Json::object(),
                                                                "MixtralForCausalLM");
  EXPECT_EQ(mixtral.source, SmoothQuantMappingSource::kRegistry);
  EXPECT_EQ(mixtral.list_name, "MIXTRAL_SMOOTHQUANT_MAPPINGS");
  EXPECT_EQ(mixtral.mappings, FindRegisteredSmoothQuantMappings("MixtralForCausalLM")->mappings);
  EXPECT_TRUE(mixtral.log.empty());
  EXPECT_FALSE(mixtral.error.has_value());
  // llm-compressor 0.14 added these two.
  EXPECT_EQ(ChooseSmoothQuantMappings(Json::object(), "Cohere2MoeForCausalLM").list_name,
            "COHERE2_MOE_SMOOTHQUANT_MAPPINGS");
  EXPECT_EQ(ChooseSmoothQuantMappings(Json::object(), "NanbeigeForCausalLM").list_name,
            "DEFAULT_SMOOTHQUANT_MAPPINGS");
  EXPECT_EQ(ChooseSmoothQuantMappings(Json::object(), "NanbeigeForCausalLM").source,
            SmoothQuantMappingSource::kRegistry);
}

TEST(SmoothQuantRegistryTest, UnregisteredArchitectureFallsBackWithUpstreamsInfoLine) {
  ChosenSmoothQuantMappings chosen = ChooseSmoothQuantMappings(Json::object(), "FooForCausalLM");
  EXPECT_EQ(chosen.source, SmoothQuantMappingSource::kDefault);
  EXPECT_EQ(chosen.mappings, DefaultSmoothQuantMappings().mappings);
  ASSERT_EQ(chosen.log.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(
      chosen.log[0],
      "INFO Architecture FooForCausalLM not found in mappings. Using default mappings: "
      "[LayerMap(balance_layers=['re:.*q_proj', 're:.*k_proj', 're:.*v_proj'], "
      "smooth_layers='re:.*input_layernorm'), "))
      << chosen.log[0];
  EXPECT_STREQ(SmoothQuantMappingSourceName(chosen.source), "default");
}

TEST(SmoothQuantRegistryTest, EveryDynamicBuilderIsImplemented) {
  ASSERT_FALSE(DynamicSmoothQuantRegistry().empty());
  for (const auto& [architecture, builder] : DynamicSmoothQuantRegistry()) {
    EXPECT_TRUE(IsImplementedSmoothQuantBuilder(builder))
        << architecture << " is built by " << builder
        << " upstream; implement it in mapping/smoothquant/smoothquant_mappings.cc";
  }
}

// llm-compressor's own builders on configs with and without layer_types
// (tools/reference/vectors.py).
TEST(SmoothQuantRegistryTest, DynamicBuildersMatchLlmCompressor) {
  Json vectors = ReadTestdata("dynamic_vectors.json");
  int checked = 0;
  for (const Json& c : vectors["cases"]) {
    const std::string architecture = c["architecture"].get<std::string>();
    SCOPED_TRACE(architecture + " " + c["config"].dump());
    ChosenSmoothQuantMappings chosen = ChooseSmoothQuantMappings(c["config"], architecture);
    EXPECT_EQ(chosen.source, SmoothQuantMappingSource::kDynamic);
    if (c.contains("error")) {
      ASSERT_TRUE(chosen.error.has_value());
      EXPECT_EQ(*chosen.error, c["error"]["type"].get<std::string>() + ": " +
                                   c["error"]["message"].get<std::string>());
      EXPECT_TRUE(chosen.mappings.empty());
    } else {
      EXPECT_FALSE(chosen.error.has_value()) << *chosen.error;
      const Json& expected = c["result"];
      ASSERT_EQ(chosen.mappings.size(), expected.size());
      for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(chosen.mappings[i].smooth_layers, expected[i]["smooth_layers"]);
        EXPECT_EQ(Json(chosen.mappings[i].balance_layers), expected[i]["balance_layers"]);
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

}  // namespace
}  // namespace smoothquant
}  // namespace mapping
}  // namespace wring
