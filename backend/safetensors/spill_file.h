// Compressed tensors parked on disk until the checkpoint is written.
//
// The sequential pipeline compresses one decoder layer at a time, but the
// safetensors header lists every tensor before the data, so the checkpoint
// is written at the end. Held in memory, the compressed layers would grow
// to the whole compressed model (16 GB for Qwen3-30B-A3B in W4A16) beside
// the layer being calibrated. A SpillFile appends each layer's large
// tensors to one temporary file and hands back read-only views of it,
// which the writer then reads like any CPU tensor: the data sits in the
// page cache, which the kernel can drop and re-read, not in the process's
// own memory.
//
// The file is unlinked as soon as it is created, so nothing is left behind
// by a failure or a kill; it lives as long as a view of it does.
#ifndef WRING_BACKEND_SAFETENSORS_SPILL_FILE_H_
#define WRING_BACKEND_SAFETENSORS_SPILL_FILE_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/safetensors/writer.h"

namespace wring {
namespace backend {
namespace safetensors {

class SpillFile {
 public:
  // A spill file in `directory` (same file system as the checkpoint, so a
  // full disk shows up there). Tensors smaller than `min_bytes` stay in
  // memory: scales and norms are small, and each view costs nothing only
  // for the large ones.
  static absl::StatusOr<std::unique_ptr<SpillFile>> Create(const std::string& directory,
                                                           uint64_t min_bytes = uint64_t{1} << 20);
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  // Appends the large CPU tensors of `tensors` to the file and replaces
  // each with a read-only view of its bytes (same dtype, shape and values).
  // One mapping per call, so a layer's tensors cost one.
  absl::Status Spill(std::vector<TensorToWrite>& tensors);

  uint64_t bytes() const { return size_; }

 private:
  SpillFile(int fd, std::string path, uint64_t min_bytes)
      : fd_(fd), path_(std::move(path)), min_bytes_(min_bytes) {}

  int fd_;
  std::string path_;  // for messages; already unlinked
  uint64_t min_bytes_;
  uint64_t size_ = 0;
};

}  // namespace safetensors
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_SAFETENSORS_SPILL_FILE_H_
