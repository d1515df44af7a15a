#include "mapping/quantization/quantization_scheme.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/python_repr.h"
#include "mapping/base/status_macros.h"
#include "mapping/match/matchers.h"

namespace wring {
namespace mapping {
namespace {

using WrittenArgs = wring::recipe::QuantizationArgs;

struct ArgsSpec {
  int num_bits;
  const char* type;
  const char* strategy;
  const char* dynamic;  // "false", "true", "local"
  absl::optional<int> group_size;
  bool symmetric = true;
  const char* observer = nullptr;
  const char* scale_and_zp_dtype = nullptr;
  std::vector<int> block_structure = {};
};

WrittenArgs Written(const ArgsSpec& spec) {
  WrittenArgs w;
  w.set_num_bits(spec.num_bits);
  w.set_type(spec.type);
  w.set_strategy(spec.strategy);
  w.set_dynamic(spec.dynamic);
  w.set_symmetric(spec.symmetric);
  if (spec.group_size) w.set_group_size(*spec.group_size);
  if (spec.observer != nullptr) w.set_observer(spec.observer);
  if (spec.scale_and_zp_dtype != nullptr) {
    w.set_scale_dtype(spec.scale_and_zp_dtype);
    w.set_zp_dtype(spec.scale_and_zp_dtype);
  }
  for (int v : spec.block_structure) w.add_block_structure(v);
  return w;
}

struct PresetSpec {
  std::string name;
  absl::optional<ArgsSpec> weights;
  absl::optional<ArgsSpec> input_activations;
};

// _int_wnam(weight_bits, act_bits): int group-128 weights, dynamic per-token
// int inputs below 16 bits.
PresetSpec IntWnAm(int weight_bits, int act_bits) {
  PresetSpec preset;
  preset.name = absl::StrCat("W", weight_bits, "A", act_bits);
  preset.weights = ArgsSpec{weight_bits, "int", "group", "false", 128};
  if (act_bits < 16) preset.input_activations = ArgsSpec{act_bits, "int", "token", "true", {}};
  return preset;
}

const std::vector<PresetSpec>& PresetSpecs() {
  static const auto* presets = [] {
    auto* p = new std::vector<PresetSpec>;
    const ArgsSpec nvfp4_weights{4, "float", "tensor_group", "false", 16, true, nullptr,
                                 "float8_e4m3fn"};
    const ArgsSpec nvfp4_inputs{4, "float", "tensor_group", "local", 16, true, "static_minmax",
                                "float8_e4m3fn"};
    const ArgsSpec mxfp4_weights{4, "float", "group", "false", 32, true, nullptr, "uint8"};
    const ArgsSpec mxfp4_inputs{4, "float", "group", "true", 32, true, nullptr, "uint8"};
    const ArgsSpec mxfp8_weights{8, "float", "group", "false", 32, true, nullptr, "uint8"};
    const ArgsSpec mxfp8_inputs{8, "float", "group", "true", 32, true, nullptr, "uint8"};
    const ArgsSpec int8_w8a8_weights{8, "int", "channel", "false", {}};
    const ArgsSpec int8_w8a8_inputs{8, "int", "token", "true", {}};
    const ArgsSpec int4_group_weights{4, "int", "group", "false", 128};
    const ArgsSpec fp8_token_inputs{8, "float", "token", "true", {}};

    p->push_back({"UNQUANTIZED", absl::nullopt, absl::nullopt});
    p->push_back({"W4A16_ASYM", ArgsSpec{4, "int", "group", "false", 128, false}, absl::nullopt});
    p->push_back({"W8A8", int8_w8a8_weights, int8_w8a8_inputs});
    p->push_back({"INT8", int8_w8a8_weights, int8_w8a8_inputs});
    p->push_back({"W4AFP8", int4_group_weights, fp8_token_inputs});
    p->push_back({"FP8", ArgsSpec{8, "float", "tensor", "false", {}},
                  ArgsSpec{8, "float", "tensor", "false", {}, true, "static_minmax"}});
    p->push_back({"FP8_DYNAMIC", ArgsSpec{8, "float", "channel", "false", {}}, fp8_token_inputs});
    p->push_back(
        {"FP8_BLOCK",
         ArgsSpec{8, "float", "block", "false", {}, true, nullptr, nullptr, {128, 128}},
         ArgsSpec{8, "float", "group", "true", 128}});
    p->push_back({"NVFP4A16", nvfp4_weights, absl::nullopt});
    p->push_back({"NVFP4", nvfp4_weights, nvfp4_inputs});
    p->push_back({"MXFP4A16", mxfp4_weights, absl::nullopt});
    p->push_back({"MXFP4", mxfp4_weights, mxfp4_inputs});
    p->push_back({"MXFP8A16", mxfp8_weights, absl::nullopt});
    p->push_back({"MXFP8", mxfp8_weights, mxfp8_inputs});
    const std::pair<int, int> int_schemes[] = {{2, 4}, {2, 8}, {2, 16}, {3, 4},  {3, 8},
                                               {3, 16}, {4, 4}, {4, 8},  {4, 16}, {5, 8},
                                               {5, 16}, {6, 8}, {6, 16}, {7, 8},  {7, 16},
                                               {8, 16}};
    for (const auto& bits : int_schemes) p->push_back(IntWnAm(bits.first, bits.second));
    return p;
  }();
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
    WRING_ASSIGN_OR_RETURN(scheme.weights, ValidateQuantizationArgs(Written(*preset->weights)));
  }
  if (preset->input_activations) {
    WRING_ASSIGN_OR_RETURN(scheme.input_activations,
                           ValidateQuantizationArgs(Written(*preset->input_activations)));
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
