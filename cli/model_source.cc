#include "cli/model_source.h"

#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mapping/archs/architectures.h"
#include "mapping/base/file.h"
#include "mapping/base/json.h"
#include "mapping/base/status_macros.h"
#include "mapping/model/model_loader.h"

namespace wring {
namespace cli {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<mapping::Json> ReadJsonFile(const std::string& path) {
  WRING_ASSIGN_OR_RETURN(std::string text, mapping::ReadFile(path, "JSON file"));
  return mapping::ParseJson(text, path);
}

bool DirectoryHasWeights(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".safetensors") || name == "model.safetensors.index.json") {
      return true;
    }
  }
  return false;
}

absl::StatusOr<mapping::ModelInput> FromConfigOnly(const std::string& config_path,
                                                   const std::string& architecture) {
  WRING_ASSIGN_OR_RETURN(mapping::Json config, ReadJsonFile(config_path));
  // Errors name the known architectures and the other inputs to use.
  return mapping::ModelFromConfig(config, config_path, architecture);
}

}  // namespace

absl::StatusOr<mapping::ModelInput> LoadModelArgument(const std::string& model_path,
                                                      const std::string& config_path,
                                                      const std::string& architecture) {
  if (model_path.empty()) {
    if (config_path.empty()) {
      return absl::InvalidArgumentError(
          "--model is required (a checkpoint directory, .safetensors file, "
          "model.safetensors.index.json, module dump or module list), or give --config "
          "config.json alone for a known architecture");
    }
    return FromConfigOnly(config_path, architecture);
  }
  std::error_code ec;
  fs::path path(model_path);
  if (fs::is_directory(path, ec) && !DirectoryHasWeights(path)) {
    fs::path config = config_path.empty() ? path / "config.json" : fs::path(config_path);
    if (fs::exists(config, ec)) return FromConfigOnly(config.string(), architecture);
  }
  // Only a small .json can be a config.json; a module dump can be tens of MB
  // and must not be parsed twice.
  constexpr uintmax_t kMaxConfigBytes = 4 << 20;
  if (fs::is_regular_file(path, ec) && absl::EndsWith(model_path, ".json") &&
      fs::file_size(path, ec) <= kMaxConfigBytes) {
    auto doc = ReadJsonFile(model_path);
    if (doc.ok() && mapping::IsModelConfig(*doc)) return FromConfigOnly(model_path, architecture);
  }
  WRING_ASSIGN_OR_RETURN(mapping::ModelInput model,
                         mapping::LoadModelFromPath(model_path, config_path));
  if (!architecture.empty()) model.architecture = architecture;
  return model;
}

}  // namespace cli
}  // namespace wring
