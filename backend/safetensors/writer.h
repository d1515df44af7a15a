// Writes torch tensors as .safetensors files, atomically.
//
// Every file is written under a temporary name in the target directory and
// renamed into place only once everything has been written, so a failure
// (full disk, bad tensor) leaves no partial checkpoint behind. Headers are
// padded with spaces to a multiple of 8 bytes, as the safetensors library
// does, and list tensors in the order given.
#ifndef WRING_BACKEND_SAFETENSORS_WRITER_H_
#define WRING_BACKEND_SAFETENSORS_WRITER_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace wring {
namespace backend {
namespace safetensors {

struct TensorToWrite {
  std::string name;
  torch::Tensor tensor;  // any device; copied to CPU while writing
  // Store a floating tensor as F8_E4M3 (values rounded to e4m3fn, as
  // compressed-tensors' float-quantized weights). On LibTorch with a float8
  // dtype, a float8_e4m3fn tensor is written as F8_E4M3 without this flag.
  bool as_float8_e4m3 = false;
};

using Metadata = std::vector<std::pair<std::string, std::string>>;

// The safetensors dtype string for a tensor ("BF16", "I32", ...).
absl::StatusOr<std::string> SafetensorsDtypeName(const TensorToWrite& tensor);

// Writes one file at `path` (its directory must exist).
absl::Status WriteSafetensorsFile(const std::string& path, const std::vector<TensorToWrite>& tensors,
                                  const Metadata& metadata = {});

// Writes a checkpoint's weights into `directory` the way transformers'
// save_pretrained does: one model.safetensors when everything fits in
// `max_shard_bytes`, else model-0000i-of-0000N.safetensors plus
// model.safetensors.index.json ({"metadata": {"total_size": bytes},
// "weight_map": {tensor: file}}, names sorted). A tensor larger than the
// limit gets a shard of its own. `metadata` goes into every file's header.
// Returns the names of the files written.
absl::StatusOr<std::vector<std::string>> WriteSafetensorsCheckpoint(const std::string& directory,
                                                                    const std::vector<TensorToWrite>& tensors,
                                                                    const Metadata& metadata,
                                                                    uint64_t max_shard_bytes);

}  // namespace safetensors
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_SAFETENSORS_WRITER_H_
