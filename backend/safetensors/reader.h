// Reads tensors out of .safetensors checkpoints as torch::Tensor.
//
// A file is memory-mapped (copy-on-write, so a caller that modifies a
// returned tensor never touches the file) and its header is validated by the
// mapping core's ParseSafetensorsHeader, the same checks `wring check` runs.
// Tensors come back as zero-copy views into the mapping where LibTorch has
// the dtype and the data is aligned; the mapping lives as long as any view.
// F8_E4M3 comes back in LibTorch's float8_e4m3fn where that exists, and
// decoded to float32 (a copy) on LibTorch 1.13, which lacks it.
#ifndef WRING_BACKEND_SAFETENSORS_READER_H_
#define WRING_BACKEND_SAFETENSORS_READER_H_

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/model/safetensors.h"

namespace wring {
namespace backend {
namespace safetensors {

class MappedFile;  // internal

class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const std::string& path() const { return path_; }
  const mapping::SafetensorsHeader& header() const { return header_; }
  bool Contains(absl::string_view name) const;

  // The tensor `name`; NotFound naming the file and tensor when absent,
  // Unimplemented for dtypes LibTorch cannot hold (e.g. U16 on 1.13, F4).
  absl::StatusOr<torch::Tensor> Get(absl::string_view name) const;

  // The tensor's bytes as a 1-D uint8 view, whatever its dtype.
  absl::StatusOr<torch::Tensor> GetBytes(absl::string_view name) const;

  // Asks the kernel to reclaim the memory pages of `name`'s data now
  // (MADV_PAGEOUT): its views stay valid and read the file again when used.
  // The sequential pipeline calls it for a layer it is done with, so the
  // checkpoint's pages do not accumulate in the process's resident memory.
  // Advisory: ignores kernels without it.
  void ReleasePages(absl::string_view name) const;

 private:
  SafetensorsFile(std::string path, std::shared_ptr<MappedFile> mapping, mapping::SafetensorsHeader header);
  absl::StatusOr<const mapping::SafetensorsTensor*> Find(absl::string_view name) const;

  std::string path_;
  std::shared_ptr<MappedFile> mapping_;
  mapping::SafetensorsHeader header_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> header_.tensors
};

// A checkpoint directory: model.safetensors, or the shards listed by
// model.safetensors.index.json. Shards are opened on first use.
class SafetensorsCheckpoint {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> Open(const std::string& directory);

  // Tensor names, in index (or header) order.
  const std::vector<std::string>& names() const { return names_; }
  absl::StatusOr<torch::Tensor> Get(absl::string_view name);
  // SafetensorsFile::ReleasePages in the shard that holds `name`, if open.
  void ReleasePages(absl::string_view name) const;

 private:
  std::string directory_;
  std::vector<std::string> names_;
  std::map<std::string, std::string, std::less<>> shard_of_;  // tensor -> file name
  std::map<std::string, std::unique_ptr<SafetensorsFile>> open_;
};

}  // namespace safetensors
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_SAFETENSORS_READER_H_
