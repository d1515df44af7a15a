// Test support: a random-init reference model of backend/model/testdata
// opened together with the compression plan of a recipe, and token ids to
// calibrate it with, for tests of the pipeline's pieces.
#ifndef WRING_BACKEND_TESTING_TINY_MODEL_H_
#define WRING_BACKEND_TESTING_TINY_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/model/causal_lm.h"
#include "backend/pipeline/compression_plan.h"

namespace wring {
namespace backend {
namespace testing {

struct TinyModel {
  std::unique_ptr<model::CausalLm> model;
  pipeline::CompressionPlan plan;
};

// backend/model/testdata/<name> (e.g. "llama_fp32_llama3rope_sharded": 2
// layers, hidden 64, GQA) on TestDevice(), planned with the recipe text
// `recipe_yaml`. Records a test failure (and returns what it could build)
// when the model or the recipe does not load.
TinyModel OpenTinyModel(const std::string& name, const std::string& recipe_yaml);

// `count` sequences of `length` token ids in [0, vocab), seeded.
std::vector<std::vector<int64_t>> RandomTokenIds(int count, int length, int64_t vocab,
                                                 uint64_t seed);

}  // namespace testing
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_TESTING_TINY_MODEL_H_
