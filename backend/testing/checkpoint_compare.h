// Test support: compares a checkpoint `wring compress` wrote with the one
// llm-compressor's oneshot + save_pretrained wrote for the same model,
// recipe and calibration tokens. The job tests choose per tensor how close
// the values must be; names, dtypes and shapes must always match.
#ifndef WRING_BACKEND_TESTING_CHECKPOINT_COMPARE_H_
#define WRING_BACKEND_TESTING_CHECKPOINT_COMPARE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "mapping/base/json.h"

namespace wring {
namespace backend {
namespace testing {

// The parsed JSON file; a test failure (and null) when it does not parse.
mapping::Json ReadJson(const std::string& path);

struct TensorDifference {
  std::string name;
  // Values compared in float64; packed int4 words (int32 *_packed tensors)
  // are compared per 4-bit value, so one changed value counts once.
  int64_t elements = 0;
  int64_t differing = 0;
  double max_abs = 0;
  double max_relative = 0;  // |ours - theirs| / |theirs| over theirs != 0
};

// Every tensor of <ours_dir>/model.safetensors against
// <reference_dir>/model.safetensors, in name order. Records a test failure
// (and returns what it could compare) when the names, a dtype or a shape
// differ.
std::vector<TensorDifference> CompareCheckpoints(const std::string& ours_dir,
                                                 const std::string& reference_dir);

// config.json's quantization_config as indented JSON with sorted keys (key
// order means nothing to a loader). The references were written by the
// compressed-tensors release wring follows, so everything else, the version
// stamp included, must be equal.
std::string ComparableQuantizationConfig(const std::string& config_path);

}  // namespace testing
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_TESTING_CHECKPOINT_COMPARE_H_
