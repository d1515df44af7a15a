#include "backend/safetensors/spill_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backend/base/file_errors.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace safetensors {
namespace {

// A read-only mapping of part of the spill file, released with its last view.
class Mapping {
 public:
  Mapping(void* data, size_t length) : data_(data), length_(length) {}
  ~Mapping() { ::munmap(data_, length_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  char* data() const { return static_cast<char*>(data_); }

 private:
  void* data_;
  size_t length_;
};

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

absl::StatusOr<std::unique_ptr<SpillFile>> SpillFile::Create(const std::string& directory,
                                                             uint64_t min_bytes) {
  std::string path = absl::StrCat(directory, "/.wring-spill.XXXXXX");
  const int fd = mkstemp(path.data());
  if (fd < 0) return FileError(path, "create a temporary file", errno);
  ::unlink(path.c_str());
  return std::unique_ptr<SpillFile>(new SpillFile(fd, path, min_bytes));
}

SpillFile::~SpillFile() { ::close(fd_); }

absl::Status SpillFile::Spill(std::vector<TensorToWrite>& tensors) {
  return CatchTorchErrors(path_, [&]() -> absl::Status {
    // Offsets within this call's region; the region starts on a page.
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t start = RoundUp(size_, page);
    std::vector<std::pair<size_t, uint64_t>> spilled;  // (index, offset in region)
    uint64_t length = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const torch::Tensor& t = tensors[i].tensor;
      if (!t.defined() || !t.device().is_cpu()) continue;
      const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
      if (bytes < min_bytes_) continue;
      const torch::Tensor contiguous = t.contiguous();
      const uint64_t offset = RoundUp(length, 64);
      const char* data = static_cast<const char*>(contiguous.data_ptr());
      for (uint64_t done = 0; done < bytes;) {
        const ssize_t n = ::pwrite(fd_, data + done, bytes - done, start + offset + done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return FileError(path_, "write", n < 0 ? errno : ENOSPC);
        done += static_cast<uint64_t>(n);
      }
      spilled.emplace_back(i, offset);
      length = offset + bytes;
    }
    if (spilled.empty()) return absl::OkStatus();
    void* data = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(start));
    if (data == MAP_FAILED) return FileError(path_, "map", errno);
    auto mapping = std::make_shared<Mapping>(data, length);
    for (const auto& [index, offset] : spilled) {
      torch::Tensor& t = tensors[index].tensor;
      std::shared_ptr<Mapping> keep_alive = mapping;
      // LibTorch wants a mutable pointer; the pages are read-only, and
      // nothing writes into a tensor bound for the checkpoint.
      t = torch::from_blob(
          mapping->data() + offset, t.sizes(), [keep_alive](void*) mutable { keep_alive.reset(); },
          t.options());
    }
    size_ = start + length;
    return absl::OkStatus();
  });
}

}  // namespace safetensors
}  // namespace backend
}  // namespace wring
