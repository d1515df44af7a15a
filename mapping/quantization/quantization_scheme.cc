#include "mapping/quantization/quantization_scheme.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/python_repr.h"
#include "mapping/base/status_macros.h"
#include "mapping/match/matchers.h"
#include "mapping/quantization/preset_schemes_json.h"

namespace wring {
namespace mapping {
namespace {

using WrittenArgs = wring::recipe::QuantizationArgs;

// One PRESET_SCHEMES entry: its args as compressed-tensors constructs them
// (the fields it passes; the validators fill in the rest, as upstream's do).
struct PresetSpec {
  std::string name;
  absl::optional<WrittenArgs> weights;
  absl::optional<WrittenArgs> input_activations;
  absl::optional<WrittenArgs> output_activations;
  absl::optional<std::string> format;
};

// The data is compiled in and checked by quantization_scheme_test; a
// malformed copy is a broken build, not an input error.
[[noreturn]] void BrokenData(absl::string_view what) {
  std::fprintf(stderr, "mapping/quantization/data/preset_schemes.json: %s\n",
               std::string(what).c_str());
  std::abort();
}

absl::optional<WrittenArgs> PresetArgs(const Json& preset, const char* key) {
  const Json* fields = JsonMember(preset, key);
  if (fields == nullptr) BrokenData(absl::StrCat("a preset has no \"", key, "\""));
  if (fields->is_null()) return absl::nullopt;
  absl::StatusOr<WrittenArgs> written = WrittenArgsFromJson(*fields);
  if (!written.ok()) BrokenData(written.status().message());
  return *std::move(written);
}

std::vector<PresetSpec>* LoadPresets() {
  absl::StatusOr<Json> json = ParseJson(embedded::PresetSchemesJson(), "preset_schemes.json");
  if (!json.ok()) BrokenData(json.status().message());
  const Json* presets = JsonMember(*json, "presets");
  if (presets == nullptr || !presets->is_array()) BrokenData("no \"presets\" list");
  auto* specs = new std::vector<PresetSpec>;
  for (const Json& preset : *presets) {
    PresetSpec spec;
    absl::optional<std::string> name = JsonString(preset, "name");
    if (!name) BrokenData("a preset has no name");
    spec.name = *name;
    spec.weights = PresetArgs(preset, "weights");
    spec.input_activations = PresetArgs(preset, "input_activations");
    spec.output_activations = PresetArgs(preset, "output_activations");
    spec.format = JsonString(preset, "format");
    specs->push_back(std::move(spec));
  }
  return specs;
}

const std::vector<PresetSpec>& PresetSpecs() {
  static const std::vector<PresetSpec>* presets = LoadPresets();
  return *presets;
}

const PresetSpec* FindPreset(absl::string_view upper_name) {
  for (const PresetSpec& preset : PresetSpecs()) {
    if (preset.name == upper_name) return &preset;
  }
  return nullptr;
}

absl::StatusOr<absl::optional<QuantizationArgs>> ValidateOptionalArgs(
    bool present, const WrittenArgs& written, std::vector<std::string>* warnings) {
  if (!present) return absl::optional<QuantizationArgs>();
  WRING_ASSIGN_OR_RETURN(QuantizationArgs args, ValidateQuantizationArgs(written, warnings));
  return absl::optional<QuantizationArgs>(std::move(args));
}

Json OptionalArgsJson(const absl::optional<QuantizationArgs>& args) {
  return args ? QuantizationArgsToJson(*args) : Json(nullptr);
}

}  // namespace

bool operator==(const QuantizationScheme& a, const QuantizationScheme& b) {
  return a.targets == b.targets && a.weights == b.weights &&
         a.input_activations == b.input_activations &&
         a.output_activations == b.output_activations && a.format == b.format;
}

absl::Status CheckQuantizationScheme(const QuantizationScheme& scheme,
                                     std::vector<std::string>* warnings) {
  const auto& inputs = scheme.input_activations;
  const auto& outputs = scheme.output_activations;
  const auto& weights = scheme.weights;
  if (inputs) {
    QuantizationStrategy s = inputs->strategy;
    if (s != QuantizationStrategy::kToken && s != QuantizationStrategy::kTensor &&
        s != QuantizationStrategy::kGroup && s != QuantizationStrategy::kTensorGroup &&
        s != QuantizationStrategy::kAttnHead) {
      // An inferred strategy is an enum member, printed with its class name.
      std::string shown = inputs->strategy_was_inferred
                              ? absl::StrCat("QuantizationStrategy.",
                                             absl::AsciiStrToUpper(QuantizationStrategyName(s)))
                              : std::string(QuantizationStrategyName(s));
      return absl::UnimplementedError(absl::StrCat(
          "Using ", shown, " strategy is not supported for activation quantization"));
    }
    if (inputs->actorder) {
      return absl::InvalidArgumentError("Cannot apply actorder to input activations");
    }
  }
  if (outputs && outputs->actorder) {
    return absl::InvalidArgumentError("Cannot apply actorder to output activations");
  }
  if (scheme.format == CompressionFormat::kMixedPrecision) {
    return absl::InvalidArgumentError(
        "mixed-precision cannot be set as a format for a QuantizationScheme");
  }
  if (inputs && weights && weights->strategy == QuantizationStrategy::kGroup &&
      inputs->strategy == QuantizationStrategy::kGroup &&
      weights->group_size != inputs->group_size && warnings != nullptr) {
    auto size = [](const absl::optional<int>& g) {
      return g ? absl::StrCat(*g) : std::string("None");
    };
    warnings->push_back(absl::StrCat(
        "Using GROUP strategy for both weights and input_activations with different group "
        "sizes (",
        size(weights->group_size), " vs ", size(inputs->group_size),
        ") may complicate fused kernel implementations. Consider using TENSOR_GROUP strategy "
        "for both or matching group sizes."));
  }
  return absl::OkStatus();
}

absl::StatusOr<QuantizationScheme> ValidateQuantizationScheme(
    const wring::recipe::QuantizationScheme& written, std::vector<std::string>* warnings) {
  QuantizationScheme scheme;
  scheme.targets.assign(written.targets().begin(), written.targets().end());
  WRING_ASSIGN_OR_RETURN(scheme.weights,
                         ValidateOptionalArgs(written.has_weights(), written.weights(), warnings));
  WRING_ASSIGN_OR_RETURN(
      scheme.input_activations,
      ValidateOptionalArgs(written.has_input_activations(), written.input_activations(),
                           warnings));
  WRING_ASSIGN_OR_RETURN(
      scheme.output_activations,
      ValidateOptionalArgs(written.has_output_activations(), written.output_activations(),
                           warnings));
  if (written.has_format()) {
    WRING_ASSIGN_OR_RETURN(scheme.format, ParseCompressionFormat(written.format()));
  }
  WRING_RETURN_IF_ERROR(CheckQuantizationScheme(scheme, warnings));
  return scheme;
}

bool IsPresetScheme(absl::string_view name) {
  return FindPreset(absl::AsciiStrToUpper(name)) != nullptr;
}

const std::vector<std::string>& ListPresetNames() {
  static const auto* names = [] {
    auto* list = new std::vector<std::string>;
    for (const PresetSpec& preset : PresetSpecs()) list->push_back(preset.name);
    return list;
  }();
  return *names;
}

absl::StatusOr<QuantizationScheme> PresetScheme(absl::string_view name,
                                                std::vector<std::string> targets) {
  std::string upper = absl::AsciiStrToUpper(name);
  const PresetSpec* preset = FindPreset(upper);
  if (preset == nullptr) {
    return absl::NotFoundError(absl::StrCat("Unknown preset scheme name ", upper,
                                            ", available names: ",
                                            PythonListRepr(ListPresetNames())));
  }
  QuantizationScheme scheme;
  scheme.targets = std::move(targets);
  if (preset->weights) {
    WRING_ASSIGN_OR_RETURN(scheme.weights, ValidateQuantizationArgs(*preset->weights));
  }
  if (preset->input_activations) {
    WRING_ASSIGN_OR_RETURN(scheme.input_activations,
                           ValidateQuantizationArgs(*preset->input_activations));
  }
  if (preset->output_activations) {
    WRING_ASSIGN_OR_RETURN(scheme.output_activations,
                           ValidateQuantizationArgs(*preset->output_activations));
  }
  if (preset->format) {
    WRING_ASSIGN_OR_RETURN(scheme.format, ParseCompressionFormat(*preset->format));
  }
  WRING_RETURN_IF_ERROR(CheckQuantizationScheme(scheme));
  return scheme;
}

Json QuantizationSchemeToJson(const QuantizationScheme& scheme) {
  Json json = Json::object();
  json["targets"] = Json::array();
  for (const std::string& target : scheme.targets) json["targets"].push_back(target);
  json["weights"] = OptionalArgsJson(scheme.weights);
  json["input_activations"] = OptionalArgsJson(scheme.input_activations);
  json["output_activations"] = OptionalArgsJson(scheme.output_activations);
  json["format"] =
      scheme.format ? Json(std::string(CompressionFormatName(*scheme.format))) : Json(nullptr);
  return json;
}

}  // namespace mapping
}  // namespace wring
