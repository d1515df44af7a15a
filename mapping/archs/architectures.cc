#include "mapping/archs/architectures.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "mapping/archs/internal/config_sizes.h"
#include "mapping/archs/internal/family_table.h"
#include "mapping/archs/internal/vision_tower.h"
#include "mapping/base/status_macros.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {
namespace {

using archs_internal::Block;
using archs_internal::ConfigSizes;
using archs_internal::FamilySpec;
using archs_internal::Kind;
using archs_internal::ModuleSpec;
using archs_internal::ParamSpec;
using archs_internal::Size;

constexpr char kModel[] = "{P}Model,{P}PreTrainedModel,PreTrainedModel";

constexpr char kTransformersVersion[] = "5.17";

// Appends modules and parameters in named_modules() / named_parameters()
// order: each module's own parameters right after it, before its children.
class TreeWriter {
 public:
  TreeWriter(const FamilySpec& family, ConfigSizes& sizes) : family_(family), sizes_(sizes) {}

  void AddPlain(std::string name, absl::string_view mro) {
    Module module;
    module.name = std::move(name);
    module.mro = ExpandMro(mro);
    module.class_name = module.mro.front();
    modules_.push_back(std::move(module));
  }

  absl::Status AddBlock(absl::string_view base, Block block) {
    for (const ModuleSpec& spec : block) WRING_RETURN_IF_ERROR(Add(base, spec));
    return absl::OkStatus();
  }

  // `with_params` is false for a tied lm_head: its weight is the embedding's,
  // which named_parameters() yields only once.
  absl::Status Add(absl::string_view base, const ModuleSpec& spec, bool with_params = true) {
    std::string name = base.empty() ? spec.path : absl::StrCat(base, ".", spec.path);
    if (spec.kind == Kind::kActivation) {
      if (activation_mro_.empty()) {
        WRING_ASSIGN_OR_RETURN(activation_mro_, sizes_.ActivationMro());
      }
      AddPlain(std::move(name), activation_mro_);
      return absl::OkStatus();
    }
    AddPlain(name, spec.mro);
    if (spec.kind == Kind::kLinear) {
      Module& linear = modules_.back();
      WRING_ASSIGN_OR_RETURN(linear.in_features, sizes_.Get(spec.in));
      WRING_ASSIGN_OR_RETURN(linear.out_features, sizes_.Get(spec.out));
      if (!with_params) return absl::OkStatus();
      int64_t in = linear.in_features, out = linear.out_features;
      parameters_.push_back({absl::StrCat(name, ".weight"), {out, in}});
      WRING_ASSIGN_OR_RETURN(bool has_bias, sizes_.HasBias(spec.bias));
      if (has_bias) parameters_.push_back({absl::StrCat(name, ".bias"), {out}});
      return absl::OkStatus();
    }
    if (!with_params) return absl::OkStatus();
    for (const ParamSpec& param : spec.params) {
      if (param.name == nullptr) break;
      Parameter parameter;
      parameter.name = absl::StrCat(name, ".", param.name);
      for (Size size : param.shape) {
        if (size == Size::kNone) break;
        WRING_ASSIGN_OR_RETURN(int64_t dim, sizes_.Get(size));
        parameter.shape.push_back(dim);
      }
      parameters_.push_back(std::move(parameter));
    }
    return absl::OkStatus();
  }

  // A module whose shapes come from elsewhere than ConfigSizes (a vision
  // tower): a Linear when `linear`, else the listed parameters.
  void AddSized(std::string name, absl::string_view mro, std::vector<Parameter> params,
                bool linear = false) {
    AddPlain(name, mro);
    if (linear) {
      modules_.back().in_features = params.front().shape[1];
      modules_.back().out_features = params.front().shape[0];
    }
    for (Parameter& p : params) {
      p.name = absl::StrCat(name, ".", p.name);
      parameters_.push_back(std::move(p));
    }
  }

  std::vector<Module> TakeModules() { return std::move(modules_); }
  std::vector<Parameter> TakeParameters() { return std::move(parameters_); }

 private:
  std::vector<std::string> ExpandMro(absl::string_view mro) const {
    std::vector<std::string> classes;
    for (absl::string_view cls : absl::StrSplit(mro, ',')) {
      classes.push_back(absl::StrReplaceAll(cls, {{"{P}", family_.prefix}}));
    }
    return classes;
  }

  const FamilySpec& family_;
  ConfigSizes& sizes_;
  std::string activation_mro_;
  std::vector<Module> modules_;
  std::vector<Parameter> parameters_;
};

// The text model at `base` ("model", or "model.language_model" inside a
// vision-language wrapper): embed_tokens, layers, norm, rotary_emb.
absl::Status WriteTextModel(const FamilySpec& family, ConfigSizes& sizes, absl::string_view base,
                            TreeWriter& writer) {
  writer.AddPlain(std::string(base), family.model_mro);
  const std::string embed = absl::StrCat(base, ".embed_tokens");
  const ModuleSpec embedding = {embed.c_str(), family.embedding_mro, Kind::kModule,
                                Size::kNone, Size::kNone, archs_internal::Bias::kNever,
                                {{"weight", {Size::kVocab, Size::kHidden}}}};
  WRING_RETURN_IF_ERROR(writer.Add("", embedding));
  writer.AddPlain(absl::StrCat(base, ".layers"), "ModuleList");

  WRING_ASSIGN_OR_RETURN(int64_t layers, sizes.NumHiddenLayers());
  std::vector<std::string> layer_types;
  if (!family.linear_attention.empty()) {
    WRING_ASSIGN_OR_RETURN(layer_types, sizes.LayerTypes());
  }
  for (int64_t i = 0; i < layers; ++i) {
    std::string layer = absl::StrCat(base, ".layers.", i);
    writer.AddPlain(layer, "{P}DecoderLayer,GradientCheckpointingLayer");
    bool linear = !layer_types.empty() && layer_types[i] == "linear_attention";
    WRING_RETURN_IF_ERROR(
        writer.AddBlock(layer, linear ? family.linear_attention : family.attention));
    WRING_ASSIGN_OR_RETURN(bool sparse, sizes.IsSparseLayer(i));
    WRING_RETURN_IF_ERROR(writer.AddBlock(layer, sparse ? family.sparse_mlp : family.dense_mlp));
    WRING_RETURN_IF_ERROR(writer.AddBlock(layer, family.layer_tail));
  }

  const std::string norm = absl::StrCat(base, ".norm");
  const ModuleSpec final_norm = {norm.c_str(), "{P}RMSNorm", Kind::kModule, Size::kNone,
                                 Size::kNone, archs_internal::Bias::kNever,
                                 {{"weight", {Size::kHidden}}}};
  WRING_RETURN_IF_ERROR(writer.Add("", final_norm));
  writer.AddPlain(absl::StrCat(base, ".rotary_emb"),
                  family.rotary_mro != nullptr ? family.rotary_mro : "{P}RotaryEmbedding");
  return absl::OkStatus();
}

// The *ForCausalLM wrapper every family shares: the text model as `model`
// and lm_head; or the vision-language one: model.{visual, language_model}
// and lm_head, tied as the top-level config says.
absl::Status WriteModel(const FamilySpec& family, const Json& config, absl::string_view source,
                        ConfigSizes& sizes, TreeWriter& writer) {
  writer.AddPlain("", absl::StrCat(family.architecture, ",{P}PreTrainedModel,PreTrainedModel"));
  bool tied = false;
  if (family.vision == archs_internal::VisionTower::kNone) {
    WRING_RETURN_IF_ERROR(WriteTextModel(family, sizes, "model", writer));
    WRING_ASSIGN_OR_RETURN(tied, sizes.TieWordEmbeddings());
  } else {
    writer.AddPlain("model", kModel);
    WRING_RETURN_IF_ERROR(archs_internal::WriteQwen3_5VisionTower(config, source, "model.visual",
                                                                   [&](archs_internal::VisionModule m) {
                                                                     writer.AddSized(std::move(m.name), m.mro,
                                                                                     std::move(m.params),
                                                                                     m.linear);
                                                                   }));
    WRING_RETURN_IF_ERROR(WriteTextModel(family, sizes, "model.language_model", writer));
    ConfigSizes top(config, family, source);
    WRING_ASSIGN_OR_RETURN(tied, top.TieWordEmbeddings());
  }
  const ModuleSpec lm_head = {"lm_head", "Linear", Kind::kLinear, Size::kHidden, Size::kVocab};
  return writer.Add("", lm_head, /*with_params=*/!tied);
}

std::string KnownList() { return absl::StrJoin(KnownArchitectures(), ", "); }

absl::StatusOr<std::string> ArchitectureFromConfig(const Json& config, absl::string_view source) {
  const Json* architectures = JsonMember(config, "architectures");
  if (architectures != nullptr && architectures->is_array() && !architectures->empty() &&
      (*architectures)[0].is_string()) {
    return (*architectures)[0].get<std::string>();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": config field \"architectures\" does not name the model class (",
      architectures == nullptr ? "missing" : "expected a list like [\"LlamaForCausalLM\"]",
      "). Add it, or pass the architecture explicitly. Known architectures: ", KnownList(),
      "."));
}

}  // namespace

bool IsModelConfig(const Json& document) {
  return document.is_object() && !document.contains("modules") &&
         !document.contains("weight_map") &&
         (document.contains("model_type") || document.contains("architectures"));
}

bool IsKnownArchitecture(absl::string_view architecture) {
  return archs_internal::FindFamily(architecture) != nullptr;
}

std::vector<std::string> KnownArchitectures() {
  std::vector<std::string> names;
  for (const FamilySpec& family : archs_internal::Families()) {
    names.push_back(family.architecture);
  }
  return names;
}

absl::StatusOr<ModelInput> ModelFromConfig(const Json& config, absl::string_view source,
                                           absl::string_view architecture) {
  if (!config.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected config.json to hold a JSON object, got ",
                     JsonTypeName(config), "."));
  }
  std::string name(architecture);
  if (name.empty()) {
    WRING_ASSIGN_OR_RETURN(name, ArchitectureFromConfig(config, source));
  }
  const FamilySpec* family = archs_internal::FindFamily(name);
  if (family == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": architecture \"", name,
        "\" is not one wring can build from config.json alone. Known architectures: ",
        KnownList(),
        ". For another model, pass its module list (a model.named_modules() dump) or its "
        "safetensors headers instead."));
  }

  const Json* text_config = &config;
  if (family->vision != archs_internal::VisionTower::kNone) {
    text_config = JsonMember(config, "text_config");
    if (text_config == nullptr || !text_config->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": config field \"text_config\" must be an object: ", name,
          " describes its language model there. Fix config.json."));
    }
  }
  ConfigSizes sizes(*text_config, *family, source);
  TreeWriter writer(*family, sizes);
  WRING_RETURN_IF_ERROR(WriteModel(*family, config, source, sizes, writer));
  absl::StatusOr<ModuleTree> tree =
      ModuleTree::Create(writer.TakeModules(), writer.TakeParameters());
  if (!tree.ok()) {
    return absl::InternalError(absl::StrCat(source, ": generated module tree for ", name,
                                            " is invalid: ", tree.status().message()));
  }

  ModelInput input;
  input.tree = *std::move(tree);
  input.config = config;
  input.architecture = std::move(name);
  input.source_kind = "config";
  input.notes.push_back(absl::StrCat(
      "Module structure generated from config.json for architecture ", input.architecture,
      " (as transformers ", kTransformersVersion,
      " builds it); no checkpoint was read, so names, classes and shapes come from the "
      "architecture's known layout."));
  for (const std::string& note : sizes.defaults_applied()) {
    input.notes.push_back(absl::StrCat("config.json default: ", note, "."));
  }
  return input;
}

}  // namespace mapping
}  // namespace wring
