// Fuzzes the recipe parser (YAML and JSON, mapping/recipe), then checks each
// recipe it accepts against two small models, as `wring check --recipe`
// would: a dense Llama and a Qwen3-MoE with fused experts, so schemes, AWQ
// and SpinQuant resolution, regexes and MoE linearization all see fuzzed
// recipes.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/internal/check_model.h"
#include "fuzz/internal/fuzz_check.h"
#include "mapping/archs/architectures.h"
#include "mapping/base/json.h"
#include "mapping/recipe/recipe_parser.h"

namespace {

using wring::mapping::Json;
using wring::mapping::ModelInput;

constexpr char kLlama[] = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256
})";

constexpr char kQwen3Moe[] = R"({
  "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe",
  "hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
  "num_experts": 4, "num_experts_per_tok": 2, "decoder_sparse_step": 1,
  "vocab_size": 256
})";

// ModelInput is move-only and CheckRecipe consumes it: build each model
// anew (microseconds) from its parsed config.
std::vector<ModelInput> Models() {
  static const auto* configs = [] {
    auto* result = new std::vector<Json>();
    for (const char* config_text : {kLlama, kQwen3Moe}) {
      absl::StatusOr<Json> config = wring::mapping::ParseJson(config_text, "config.json");
      WRING_FUZZ_CHECK(config.ok(), "the built-in config parses");
      result->push_back(*std::move(config));
    }
    return result;
  }();
  std::vector<ModelInput> models;
  for (const Json& config : *configs) {
    absl::StatusOr<ModelInput> model = wring::mapping::ModelFromConfig(config, "config.json");
    WRING_FUZZ_CHECK(model.ok(), "the built-in config builds a model");
    models.push_back(*std::move(model));
  }
  return models;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<wring::recipe::Recipe> recipe = wring::mapping::ParseRecipe(text, "recipe.yaml");
  if (!recipe.ok()) {
    WRING_FUZZ_CHECK(absl::StrContains(recipe.status().message(), "recipe.yaml"),
                     "a recipe error names the file");
    return 0;
  }
  WRING_FUZZ_CHECK(recipe->modifiers_size() > 0, "an accepted recipe has a modifier");
  (void)wring::mapping::ValidateRecipeOrder(*recipe);
  for (ModelInput& model : Models()) wring::fuzz::CheckAndRender(std::move(model), &*recipe);
  return 0;
}
