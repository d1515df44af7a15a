// Fuzzes the backend's safetensors reader (backend/safetensors/reader.h) on
// whole files: whatever header the mapping core's validation accepts, every
// tensor must come back with its shape and bytes, or as "no LibTorch dtype"
// (Unimplemented), never as a LibTorch error, and reading all of its bytes
// must stay inside the file. Links LibTorch.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/safetensors/reader.h"
#include "fuzz/internal/fuzz_check.h"

namespace {

using wring::backend::safetensors::SafetensorsFile;

// One scratch file per process, rewritten for every input.
const std::string& ScratchPath() {
  static const std::string* path = [] {
    const char* tmp = std::getenv("TEST_TMPDIR");
    if (tmp == nullptr) tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/wring_fuzz_XXXXXX";
    const int fd = mkstemp(pattern.data());
    WRING_FUZZ_CHECK(fd >= 0, "a scratch file can be created");
    close(fd);
    return new std::string(pattern);
  }();
  return *path;
}

bool WriteScratch(const uint8_t* data, size_t size) {
  const int fd = open(ScratchPath().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return false;
  size_t written = 0;
  while (written < size) {
    const ssize_t n = write(fd, data + written, size - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  close(fd);
  return written == size;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  WRING_FUZZ_CHECK(WriteScratch(data, size), "the scratch file can be written");
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(ScratchPath());
  if (!file.ok()) return 0;
  for (const wring::mapping::SafetensorsTensor& entry : (*file)->header().tensors) {
    absl::StatusOr<torch::Tensor> bytes = (*file)->GetBytes(entry.name);
    WRING_FUZZ_CHECK(bytes.ok(), "every listed tensor's bytes are there");
    WRING_FUZZ_CHECK(static_cast<uint64_t>(bytes->numel()) == entry.end - entry.begin,
                     "the bytes are the tensor's data_offsets");
    // Touch every byte: a view past the mapping faults here.
    (void)bytes->sum().item<int64_t>();
    absl::StatusOr<torch::Tensor> tensor = (*file)->Get(entry.name);
    if (absl::IsUnimplemented(tensor.status())) continue;
    WRING_FUZZ_CHECK(tensor.ok(), "a validated tensor never fails inside LibTorch");
    WRING_FUZZ_CHECK(tensor->sizes().vec() == entry.shape, "the tensor has its header's shape");
  }
  return 0;
}
