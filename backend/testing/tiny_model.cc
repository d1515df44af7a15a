#include "backend/testing/tiny_model.h"

#include <random>
#include <utility>

#include "backend/testing/test_device.h"
#include "gtest/gtest.h"
#include "mapping/archs/architectures.h"
#include "mapping/base/json.h"
#include "mapping/recipe/recipe_parser.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace testing {

TinyModel OpenTinyModel(const std::string& name, const std::string& recipe_yaml) {
  TinyModel tiny;
  const std::string dir = mapping::testing::RunfilePath("backend/model/testdata/" + name);
  const std::string config_path = dir + "/config.json";
  auto config = mapping::ParseJson(mapping::testing::ReadFileOrFail(config_path), config_path);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return tiny;
  auto input = mapping::ModelFromConfig(*config, config_path, "");
  EXPECT_TRUE(input.ok()) << input.status();
  auto recipe = mapping::ParseRecipe(recipe_yaml, "recipe.yaml");
  EXPECT_TRUE(recipe.ok()) << recipe.status();
  if (!input.ok() || !recipe.ok()) return tiny;
  auto plan = pipeline::PlanCompression(*std::move(input), *recipe);
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (plan.ok()) tiny.plan = *std::move(plan);
  auto model = model::CausalLm::Open(dir, torch::Device(TestDevice()));
  EXPECT_TRUE(model.ok()) << model.status();
  if (model.ok()) tiny.model = *std::move(model);
  return tiny;
}

std::vector<std::vector<int64_t>> RandomTokenIds(int count, int length, int64_t vocab,
                                                 uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int64_t> token(0, vocab - 1);
  std::vector<std::vector<int64_t>> ids(count, std::vector<int64_t>(length));
  for (auto& sample : ids) {
    for (int64_t& id : sample) id = token(random);
  }
  return ids;
}

}  // namespace testing
}  // namespace backend
}  // namespace wring
