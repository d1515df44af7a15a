#include "mapping/model/model_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/file.h"
#include "mapping/base/json.h"
#include "mapping/base/status_macros.h"
#include "mapping/model/model_text.h"
#include "mapping/model/tensor_names.h"

namespace wring {
namespace mapping {
namespace {

namespace fs = std::filesystem;

// Module dumps of the largest MoE models are tens of MB; anything far bigger
// is not a text input.
constexpr uint64_t kMaxTextBytes = uint64_t{1} << 30;

absl::StatusOr<uint64_t> FileSize(const std::string& path) {
  std::error_code error;
  uint64_t size = fs::file_size(path, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read the file (", error.message(), ")"));
  }
  return size;
}

absl::StatusOr<std::string> ReadBytes(const std::string& path, uint64_t count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the file for reading"));
  std::string bytes(count, '\0');
  in.read(&bytes[0], static_cast<std::streamsize>(count));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return bytes;
}

absl::StatusOr<std::string> ReadText(const std::string& path) {
  WRING_ASSIGN_OR_RETURN(uint64_t size, FileSize(path));
  if (size > kMaxTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", size, " bytes is too large for a module list or JSON file; "
        "give the model directory or a .safetensors file instead"));
  }
  return ReadFile(path, "module list or JSON file");
}

absl::StatusOr<Json> ReadConfig(const std::string& path) {
  WRING_ASSIGN_OR_RETURN(std::string text, ReadText(path));
  WRING_ASSIGN_OR_RETURN(Json config, ParseJson(text, path));
  if (!config.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": config.json must be a JSON object, got ", JsonTypeName(config)));
  }
  return config;
}

// config.json named explicitly, else the one in `dir`, else an empty object.
absl::StatusOr<Json> FindConfig(const std::string& explicit_path, const fs::path& dir) {
  if (!explicit_path.empty()) return ReadConfig(explicit_path);
  std::error_code error;
  fs::path beside = dir / "config.json";
  if (fs::is_regular_file(beside, error)) return ReadConfig(beside.string());
  return Json::object();
}

bool HasSafetensorsMagic(const std::string& path) {
  absl::StatusOr<std::string> head = ReadBytes(path, 9);
  return head.ok() && head->size() == 9 && (*head)[8] == '{';
}

// Shards named by an index: plain file names in the index's directory.
absl::StatusOr<ModelInput> LoadIndex(const fs::path& index_path, const Json& config) {
  const std::string source = index_path.string();
  WRING_ASSIGN_OR_RETURN(std::string text, ReadText(source));
  WRING_ASSIGN_OR_RETURN(Json document, ParseJson(text, source));
  WRING_ASSIGN_OR_RETURN(SafetensorsIndex index, ParseSafetensorsIndex(document, source));
  fs::path dir = index_path.parent_path();
  absl::flat_hash_map<std::string, const SafetensorsTensor*> shapes;
  std::vector<SafetensorsHeader> headers;
  headers.reserve(index.shards.size());
  std::vector<std::string> missing;
  for (const std::string& shard : index.shards) {
    fs::path shard_path(shard);
    if (shard_path.is_absolute() || shard.find("..") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": weight_map names shard \"", shard,
          "\"; shards must be file names in the index's directory"));
    }
    std::error_code error;
    if (!fs::is_regular_file(dir / shard_path, error)) {
      missing.push_back(shard);
      continue;
    }
    WRING_ASSIGN_OR_RETURN(SafetensorsHeader header,
                           ReadSafetensorsHeaderFile((dir / shard_path).string()));
    headers.push_back(std::move(header));
  }
  for (const SafetensorsHeader& h : headers) {
    for (const SafetensorsTensor& t : h.tensors) shapes[t.name] = &t;
  }
  std::vector<NamedTensor> tensors;
  tensors.reserve(index.weight_map.size());
  for (const auto& entry : index.weight_map) {
    auto it = shapes.find(entry.first);
    if (it != shapes.end()) {
      tensors.push_back({entry.first, it->second->shape, true});
    } else {
      tensors.push_back({entry.first, {}, false});
    }
  }
  WRING_ASSIGN_OR_RETURN(ModelInput model, ModelFromTensorNames(tensors, config, source));
  if (!missing.empty() && !headers.empty()) {
    model.notes.push_back(absl::StrCat(missing.size(), " of ", index.shards.size(),
                                       " shards are missing (e.g. ", missing[0],
                                       "); their tensors have no shapes"));
  }
  return model;
}

absl::StatusOr<ModelInput> LoadShards(const std::vector<fs::path>& files, const Json& config,
                                      const std::string& source) {
  std::vector<SafetensorsHeader> headers;
  for (const fs::path& file : files) {
    WRING_ASSIGN_OR_RETURN(SafetensorsHeader header, ReadSafetensorsHeaderFile(file.string()));
    headers.push_back(std::move(header));
  }
  return ModelFromSafetensorsHeaders(headers, config, source);
}

absl::StatusOr<ModelInput> LoadDirectory(const fs::path& dir, const std::string& config_path) {
  WRING_ASSIGN_OR_RETURN(Json config, FindConfig(config_path, dir));
  std::error_code error;
  fs::path index = dir / "model.safetensors.index.json";
  if (fs::is_regular_file(index, error)) return LoadIndex(index, config);
  std::vector<fs::path> shards;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (it->path().extension() == ".safetensors") shards.push_back(it->path());
  }
  if (error) {
    return absl::NotFoundError(
        absl::StrCat(dir.string(), ": cannot list the directory (", error.message(), ")"));
  }
  if (shards.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir.string(),
        ": no model.safetensors.index.json and no *.safetensors files here; give a model "
        "directory, a .safetensors file, a module dump or a module list"));
  }
  std::sort(shards.begin(), shards.end());
  return LoadShards(shards, config, dir.string());
}

}  // namespace

absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeaderFile(const std::string& path) {
  WRING_ASSIGN_OR_RETURN(uint64_t size, FileSize(path));
  WRING_ASSIGN_OR_RETURN(std::string head, ReadBytes(path, std::min<uint64_t>(size, 8)));
  WRING_ASSIGN_OR_RETURN(uint64_t n, SafetensorsHeaderLength(head, size, path));
  WRING_ASSIGN_OR_RETURN(std::string prefix, ReadBytes(path, 8 + n));
  return ParseSafetensorsHeader(prefix, size, path);
}

absl::StatusOr<ModelInput> LoadModelFromPath(const std::string& path,
                                             const std::string& config_path) {
  std::error_code error;
  fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
  }
  if (fs::is_directory(status)) return LoadDirectory(path, config_path);
  if (!fs::is_regular_file(status)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file or directory"));
  }
  fs::path p(path);
  if (absl::EndsWith(path, ".xz")) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": xz-compressed input is not read directly; decompress it first (xz -dk ", path,
        ")"));
  }
  if (p.extension() == ".safetensors" || HasSafetensorsMagic(path)) {
    WRING_ASSIGN_OR_RETURN(Json config, FindConfig(config_path, p.parent_path()));
    return LoadShards({p}, config, path);
  }
  Json config = Json::object();
  if (!config_path.empty()) {
    WRING_ASSIGN_OR_RETURN(config, ReadConfig(config_path));
  }
  WRING_ASSIGN_OR_RETURN(std::string text, ReadText(path));
  if (p.extension() == ".json") {
    absl::StatusOr<Json> document = ParseJson(text, path);
    if (document.ok() && IsSafetensorsIndex(*document)) {
      if (config_path.empty()) {
        WRING_ASSIGN_OR_RETURN(config, FindConfig("", p.parent_path()));
      }
      return LoadIndex(p, config);
    }
  }
  return ModelFromText(text, path, config);
}

}  // namespace mapping
}  // namespace wring
