#include "backend/safetensors/writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/base/file_errors.h"
#include "backend/base/torch_errors.h"
#include "backend/compat/torch_compat.h"
#include "backend/interrupt/interrupt.h"
#include "mapping/base/json.h"

namespace wring {
namespace backend {
namespace safetensors {
namespace {

absl::Status ErrnoStatus(absl::string_view action, const std::string& path) {
  return FileError(path, action, errno);
}

// The bytes a tensor is stored as: contiguous, on the CPU, little-endian
// (the only byte order wring runs on).
absl::StatusOr<torch::Tensor> StoredBytes(const TensorToWrite& entry) {
  return CatchTorchErrors(absl::StrCat("tensor \"", entry.name, "\""), [&]() -> absl::StatusOr<torch::Tensor> {
    if (entry.as_float8_e4m3) {
      absl::StatusOr<torch::Tensor> encoded = compat::EncodeFloat8E4M3(entry.tensor);
      if (!encoded.ok()) return encoded.status();
      return encoded->flatten();
    }
    torch::Tensor cpu = entry.tensor.to(torch::kCPU).contiguous();
    // A bool is one byte in both LibTorch and safetensors.
    return cpu.flatten().view(torch::kByte);
  });
}

uint64_t StoredSize(const TensorToWrite& entry) {
  if (entry.as_float8_e4m3) return static_cast<uint64_t>(entry.tensor.numel());
  return static_cast<uint64_t>(entry.tensor.numel()) * entry.tensor.element_size();
}

// Writes all of `data` to `fd`, retrying short writes.
absl::Status WriteAll(int fd, const void* data, size_t size, const std::string& path) {
  const char* cursor = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd, cursor, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path);
    }
    cursor += written;
    size -= static_cast<size_t>(written);
  }
  return absl::OkStatus();
}

// Writes `path`'s content to a fresh temporary file beside it and returns
// that file's name; the caller renames it into place.
absl::StatusOr<std::string> WriteTemporary(const std::string& path, const std::vector<TensorToWrite>& tensors,
                                           const Metadata& metadata) {
  mapping::Json header = mapping::Json::object();
  if (!metadata.empty()) {
    mapping::Json meta = mapping::Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = meta;
  }
  // The header from sizes alone: each payload is produced (encoded,
  // copied to the CPU) only as it is written, so a checkpoint never needs
  // a second copy of itself in memory.
  uint64_t offset = 0;
  for (const TensorToWrite& entry : tensors) {
    if (entry.name == "__metadata__" || header.contains(entry.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": tensor name \"", entry.name, "\" is reserved or appears twice"));
    }
    absl::StatusOr<std::string> dtype = SafetensorsDtypeName(entry);
    if (!dtype.ok()) return absl::Status(dtype.status().code(), absl::StrCat(path, ": ", dtype.status().message()));
    const uint64_t size = StoredSize(entry);
    header[entry.name] = {{"dtype", *dtype},
                          {"shape", entry.tensor.sizes().vec()},
                          {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  // nlohmann reports invalid UTF-8 in names by throwing; replace it instead.
  std::string header_text = header.dump(-1, ' ', false, mapping::Json::error_handler_t::replace);
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  std::string temporary = absl::StrCat(path, ".tmp.XXXXXX");
  const int fd = mkstemp(temporary.data());
  if (fd < 0) return ErrnoStatus("create a temporary file", temporary);
  auto fail = [&](absl::Status status) {
    ::close(fd);
    ::unlink(temporary.c_str());
    return status;
  };
  unsigned char length[8];
  const uint64_t n = header_text.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(n >> (8 * i));
  if (absl::Status s = WriteAll(fd, length, 8, temporary); !s.ok()) return fail(s);
  if (absl::Status s = WriteAll(fd, header_text.data(), header_text.size(), temporary); !s.ok()) return fail(s);
  for (const TensorToWrite& entry : tensors) {
    // A shard is gigabytes: a stop request is honoured between tensors.
    if (absl::Status s = interrupt::CheckNotInterrupted(); !s.ok()) return fail(s);
    absl::StatusOr<torch::Tensor> payload = StoredBytes(entry);
    if (!payload.ok()) {
      return fail(absl::Status(payload.status().code(), absl::StrCat(path, ": ", payload.status().message())));
    }
    if (static_cast<uint64_t>(payload->numel()) != StoredSize(entry)) {
      return fail(absl::InternalError(absl::StrCat(path, ": tensor \"", entry.name, "\" has ",
                                                   payload->numel(), " bytes, not the ",
                                                   StoredSize(entry), " its header gives")));
    }
    if (absl::Status s = WriteAll(fd, payload->data_ptr(), payload->numel(), temporary); !s.ok()) return fail(s);
  }
  if (::fsync(fd) != 0) return fail(ErrnoStatus("flush to disk", temporary));
  if (::close(fd) != 0) {
    absl::Status status = ErrnoStatus("close", temporary);
    ::unlink(temporary.c_str());
    return status;
  }
  if (::chmod(temporary.c_str(), 0644) != 0) {
    absl::Status status = ErrnoStatus("set permissions of", temporary);
    ::unlink(temporary.c_str());
    return status;
  }
  return temporary;
}

// Renames every (temporary, final) pair, or removes all temporaries.
absl::Status Commit(const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [temporary, final_path] : files) {
    if (std::rename(temporary.c_str(), final_path.c_str()) != 0) {
      absl::Status status = ErrnoStatus("rename into place", final_path);
      for (const auto& pair : files) ::unlink(pair.first.c_str());
      return status;
    }
  }
  return absl::OkStatus();
}

void Discard(const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& pair : files) ::unlink(pair.first.c_str());
}

}  // namespace

absl::StatusOr<std::string> SafetensorsDtypeName(const TensorToWrite& entry) {
  if (!entry.tensor.defined()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor \"", entry.name, "\" is undefined"));
  }
  const torch::Dtype dtype = entry.tensor.scalar_type();
  if (entry.as_float8_e4m3) {
    if (!entry.tensor.is_floating_point()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor \"", entry.name, "\": as_float8_e4m3 needs a floating-point tensor"));
    }
    return std::string("F8_E4M3");
  }
  switch (dtype) {
    case torch::kBFloat16: return std::string("BF16");
    case torch::kHalf: return std::string("F16");
    case torch::kFloat: return std::string("F32");
    case torch::kDouble: return std::string("F64");
    case torch::kChar: return std::string("I8");
    case torch::kShort: return std::string("I16");
    case torch::kInt: return std::string("I32");
    case torch::kLong: return std::string("I64");
    case torch::kByte: return std::string("U8");
    case torch::kBool: return std::string("BOOL");
    default: break;
  }
  if (compat::NativeFloat8E4M3Dtype() == dtype) return std::string("F8_E4M3");
  return absl::InvalidArgumentError(absl::StrCat("tensor \"", entry.name, "\": dtype ", c10::toString(dtype),
                                                 " cannot be stored in safetensors by wring"));
}

absl::Status WriteSafetensorsFile(const std::string& path, const std::vector<TensorToWrite>& tensors,
                                  const Metadata& metadata) {
  return CatchTorchErrors(path, [&]() -> absl::Status {
    absl::StatusOr<std::string> temporary = WriteTemporary(path, tensors, metadata);
    if (!temporary.ok()) return temporary.status();
    return Commit({{*temporary, path}});
  });
}

absl::StatusOr<std::vector<std::string>> WriteSafetensorsCheckpoint(const std::string& directory,
                                                                    const std::vector<TensorToWrite>& tensors,
                                                                    const Metadata& metadata,
                                                                    uint64_t max_shard_bytes) {
  if (max_shard_bytes == 0) return absl::InvalidArgumentError("max_shard_bytes must be positive");
  std::vector<std::vector<TensorToWrite>> shards(1);
  uint64_t shard_bytes = 0;
  uint64_t total_bytes = 0;
  for (const TensorToWrite& entry : tensors) {
    if (!entry.tensor.defined()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", entry.name, "\" is undefined"));
    }
    const uint64_t size = StoredSize(entry);
    if (!shards.back().empty() && shard_bytes + size > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(entry);
    shard_bytes += size;
    total_bytes += size;
  }
  std::vector<std::string> names;
  if (shards.size() == 1) {
    names.push_back("model.safetensors");
  } else {
    for (size_t i = 0; i < shards.size(); ++i) {
      names.push_back(absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, shards.size()));
    }
  }
  return CatchTorchErrors(directory, [&]() -> absl::StatusOr<std::vector<std::string>> {
    std::vector<std::pair<std::string, std::string>> written;
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string final_path = absl::StrCat(directory, "/", names[i]);
      absl::StatusOr<std::string> temporary = WriteTemporary(final_path, shards[i], metadata);
      if (!temporary.ok()) {
        Discard(written);
        return temporary.status();
      }
      written.emplace_back(*temporary, final_path);
    }
    if (shards.size() > 1) {
      std::map<std::string, std::string> weight_map;  // sorted, as transformers writes it
      for (size_t i = 0; i < shards.size(); ++i) {
        for (const TensorToWrite& entry : shards[i]) weight_map[entry.name] = names[i];
      }
      mapping::Json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", mapping::Json::object()}};
      for (const auto& [tensor, file] : weight_map) index["weight_map"][tensor] = file;
      const std::string index_path = absl::StrCat(directory, "/model.safetensors.index.json");
      const std::string text = index.dump(2, ' ', false, mapping::Json::error_handler_t::replace) + "\n";
      std::string temporary = absl::StrCat(index_path, ".tmp.XXXXXX");
      const int fd = mkstemp(temporary.data());
      if (fd < 0) {
        Discard(written);
        return ErrnoStatus("create a temporary file", temporary);
      }
      absl::Status status = WriteAll(fd, text.data(), text.size(), temporary);
      if (::close(fd) != 0 && status.ok()) status = ErrnoStatus("close", temporary);
      if (status.ok() && ::chmod(temporary.c_str(), 0644) != 0) status = ErrnoStatus("set permissions of", temporary);
      written.emplace_back(temporary, index_path);
      if (!status.ok()) {
        Discard(written);
        return status;
      }
      names.push_back("model.safetensors.index.json");
    }
    if (absl::Status status = Commit(written); !status.ok()) return status;
    return names;
  });
}

}  // namespace safetensors
}  // namespace backend
}  // namespace wring
