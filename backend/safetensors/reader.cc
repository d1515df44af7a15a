#include "backend/safetensors/reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/compat/torch_compat.h"
#include "mapping/base/file.h"
#include "mapping/base/json.h"

namespace wring {
namespace backend {
namespace safetensors {

// A private, copy-on-write mapping of a whole file.
class MappedFile {
 public:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  ~MappedFile() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return static_cast<uint8_t*>(data_); }
  size_t size() const { return size_; }

 private:
  void* data_;
  size_t size_;
};

namespace {

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  const int error = errno;
  const std::string text = absl::StrCat(path, ": ", what, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(text);
  return absl::InternalError(text);
}

std::optional<torch::Dtype> TorchDtype(absl::string_view dtype) {
  if (dtype == "BF16") return torch::kBFloat16;
  if (dtype == "F16") return torch::kHalf;
  if (dtype == "F32") return torch::kFloat;
  if (dtype == "F64") return torch::kDouble;
  if (dtype == "I8") return torch::kChar;
  if (dtype == "I16") return torch::kShort;
  if (dtype == "I32") return torch::kInt;
  if (dtype == "I64") return torch::kLong;
  if (dtype == "U8") return torch::kByte;
  if (dtype == "BOOL") return torch::kBool;
  return std::nullopt;
}

}  // namespace

SafetensorsFile::SafetensorsFile(std::string path, std::shared_ptr<MappedFile> mapping,
                                 mapping::SafetensorsHeader header)
    : path_(std::move(path)), mapping_(std::move(mapping)), header_(std::move(header)) {
  for (size_t i = 0; i < header_.tensors.size(); ++i) index_.emplace(header_.tensors[i].name, i);
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path);
  struct stat info;
  if (fstat(fd, &info) != 0) {
    absl::Status status = ErrnoStatus("cannot stat", path);
    ::close(fd);
    return status;
  }
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  if (size < 8) {
    ::close(fd);
    // Let the core produce its message for a file too short for a header.
    absl::StatusOr<uint64_t> length = mapping::SafetensorsHeaderLength(absl::string_view(), size, path);
    if (!length.ok()) return length.status();
    return absl::InvalidArgumentError(absl::StrCat(path, ": file of ", size, " bytes is too short"));
  }
  // MAP_PRIVATE + PROT_WRITE: writes through a returned tensor stay private.
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) return ErrnoStatus("cannot mmap", path);
  auto mapped = std::make_shared<MappedFile>(data, size);
  const absl::string_view bytes(reinterpret_cast<const char*>(mapped->data()), size);
  absl::StatusOr<mapping::SafetensorsHeader> header = mapping::ParseSafetensorsHeader(bytes, size, path);
  if (!header.ok()) return header.status();
  return std::unique_ptr<SafetensorsFile>(new SafetensorsFile(path, std::move(mapped), *std::move(header)));
}

bool SafetensorsFile::Contains(absl::string_view name) const { return index_.find(name) != index_.end(); }

absl::StatusOr<const mapping::SafetensorsTensor*> SafetensorsFile::Find(absl::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat(path_, ": no tensor named \"", name, "\""));
  }
  return &header_.tensors[it->second];
}

absl::StatusOr<torch::Tensor> SafetensorsFile::GetBytes(absl::string_view name) const {
  absl::StatusOr<const mapping::SafetensorsTensor*> entry = Find(name);
  if (!entry.ok()) return entry.status();
  const uint64_t data_start = 8 + header_.header_length;
  uint8_t* begin = mapping_->data() + data_start + (*entry)->begin;
  const int64_t length = static_cast<int64_t>((*entry)->end - (*entry)->begin);
  std::shared_ptr<MappedFile> keep_alive = mapping_;
  return CatchTorchErrors(absl::StrCat(path_, ": tensor \"", name, "\""), [&]() -> absl::StatusOr<torch::Tensor> {
    return torch::from_blob(
        begin, {length}, [keep_alive](void*) mutable { keep_alive.reset(); }, torch::kByte);
  });
}

void SafetensorsFile::ReleasePages(absl::string_view name) const {
#ifdef MADV_PAGEOUT
  absl::StatusOr<const mapping::SafetensorsTensor*> entry = Find(name);
  if (!entry.ok()) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t data = reinterpret_cast<uintptr_t>(mapping_->data()) + 8 + header_.header_length;
  // Whole pages only: a page shared with a neighbouring tensor stays.
  const uintptr_t begin = (data + (*entry)->begin + page - 1) / page * page;
  const uintptr_t end = (data + (*entry)->end) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_PAGEOUT);
#else
  (void)name;
#endif
}

absl::StatusOr<torch::Tensor> SafetensorsFile::Get(absl::string_view name) const {
  absl::StatusOr<const mapping::SafetensorsTensor*> found = Find(name);
  if (!found.ok()) return found.status();
  const mapping::SafetensorsTensor& entry = **found;
  const std::string context = absl::StrCat(path_, ": tensor \"", name, "\"");
  absl::StatusOr<torch::Tensor> bytes = GetBytes(name);
  if (!bytes.ok()) return bytes.status();
  return CatchTorchErrors(context, [&]() -> absl::StatusOr<torch::Tensor> {
    if (entry.dtype == "F8_E4M3") {
      std::optional<torch::Dtype> native = compat::NativeFloat8E4M3Dtype();
      if (native) return bytes->view(*native).view(entry.shape);
      absl::StatusOr<torch::Tensor> decoded = compat::DecodeFloat8E4M3(*bytes, torch::kFloat);
      if (!decoded.ok()) return decoded.status();
      return decoded->view(entry.shape);
    }
    std::optional<torch::Dtype> dtype = TorchDtype(entry.dtype);
    if (!dtype) {
      return absl::UnimplementedError(absl::StrCat(context, ": dtype ", entry.dtype, " has no LibTorch ",
                                                   compat::kTorchMajor, ".", compat::kTorchMinor,
                                                   " equivalent; use GetBytes for its raw bytes"));
    }
    const int64_t itemsize = static_cast<int64_t>(c10::elementSize(*dtype));
    if (reinterpret_cast<uintptr_t>(bytes->data_ptr()) % itemsize != 0) {
      // Misaligned data (legal in the format): copy rather than alias.
      return bytes->clone().view(*dtype).view(entry.shape);
    }
    return bytes->view(*dtype).view(entry.shape);
  });
}

absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> SafetensorsCheckpoint::Open(const std::string& directory) {
  auto checkpoint = std::unique_ptr<SafetensorsCheckpoint>(new SafetensorsCheckpoint());
  checkpoint->directory_ = directory;
  const std::string index_path = absl::StrCat(directory, "/model.safetensors.index.json");
  absl::StatusOr<std::string> index_text = mapping::ReadFile(index_path, "safetensors index");
  if (absl::IsNotFound(index_text.status())) {
    const std::string single = absl::StrCat(directory, "/model.safetensors");
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(single);
    if (!file.ok()) {
      if (absl::IsNotFound(file.status())) {
        return absl::NotFoundError(absl::StrCat(directory, ": neither model.safetensors nor "
                                                           "model.safetensors.index.json exists"));
      }
      return file.status();
    }
    for (const mapping::SafetensorsTensor& t : (*file)->header().tensors) {
      checkpoint->names_.push_back(t.name);
      checkpoint->shard_of_.emplace(t.name, "model.safetensors");
    }
    checkpoint->open_.emplace("model.safetensors", *std::move(file));
    return checkpoint;
  }
  if (!index_text.ok()) return index_text.status();
  absl::StatusOr<mapping::Json> document = mapping::ParseJson(*index_text, index_path);
  if (!document.ok()) return document.status();
  absl::StatusOr<mapping::SafetensorsIndex> index = mapping::ParseSafetensorsIndex(*document, index_path);
  if (!index.ok()) return index.status();
  for (const auto& [tensor, shard] : index->weight_map) {
    checkpoint->names_.push_back(tensor);
    checkpoint->shard_of_.emplace(tensor, shard);
  }
  return checkpoint;
}

void SafetensorsCheckpoint::ReleasePages(absl::string_view name) const {
  auto shard = shard_of_.find(name);
  if (shard == shard_of_.end()) return;
  auto file = open_.find(shard->second);
  if (file != open_.end()) file->second->ReleasePages(name);
}

absl::StatusOr<torch::Tensor> SafetensorsCheckpoint::Get(absl::string_view name) {
  auto shard = shard_of_.find(name);
  if (shard == shard_of_.end()) {
    return absl::NotFoundError(absl::StrCat(directory_, ": the checkpoint has no tensor named \"", name, "\""));
  }
  auto open = open_.find(shard->second);
  if (open == open_.end()) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::Open(absl::StrCat(directory_, "/", shard->second));
    if (!file.ok()) return file.status();
    open = open_.emplace(shard->second, *std::move(file)).first;
  }
  absl::StatusOr<torch::Tensor> tensor = open->second->Get(name);
  if (absl::IsNotFound(tensor.status())) {
    return absl::NotFoundError(absl::StrCat(tensor.status().message(),
                                            " although model.safetensors.index.json lists it there"));
  }
  return tensor;
}

}  // namespace safetensors
}  // namespace backend
}  // namespace wring
