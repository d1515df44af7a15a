#include "backend/model/internal/checkpoint_layout.h"

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

std::string ShapeString(c10::IntArrayRef shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

// "<layer prefix>mlp.experts.<e>.<projection>.weight" -> (e, projection).
std::optional<std::pair<int64_t, std::string>> ExpertParameter(absl::string_view name, absl::string_view prefix) {
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, prefix) || !absl::ConsumePrefix(&rest, "mlp.experts.") ||
      !absl::ConsumeSuffix(&rest, ".weight")) {
    return std::nullopt;
  }
  const size_t dot = rest.find('.');
  int64_t expert;
  if (dot == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, dot), &expert)) return std::nullopt;
  return std::make_pair(expert, std::string(rest.substr(dot + 1)));
}

// Builds one layer's sources and collects its problems.
class LayerResolver {
 public:
  LayerResolver(const ModelConfig& config, int layer, const std::set<std::string>& present,
                const CheckpointLayout::Lookup& lookup)
      : config_(config), layer_(layer), prefix_(LayerPrefix(config, layer)), present_(present), lookup_(lookup) {}

  std::map<std::string, TensorSource> Resolve(std::vector<std::string>& problems, std::set<std::string>& used) {
    std::map<std::string, TensorSource> sources;
    std::set<std::string> missing_experts;
    for (const LayerModule& module : DecoderLayerModules(config_, layer_)) {
      for (const auto& [name, shape] : ModuleParameters(module)) {
        std::optional<TensorSource> source = Find(name, shape);
        if (!source.has_value()) {
          if (ExpertParameter(name, prefix_).has_value()) {
            missing_experts.insert(name);
          } else {
            problems.push_back(absl::StrCat("missing ", name));
          }
          continue;
        }
        used.insert(source->stored_name);
        if (CheckStored(*source, problems)) sources[name] = *std::move(source);
      }
    }
    if (!missing_experts.empty()) {
      problems.push_back(absl::StrCat(
          "missing ", missing_experts.size(), " expert tensors (", ExpertLayoutsNote(), "), e.g. ",
          absl::StrJoin(std::vector<std::string>(missing_experts.begin(),
                                                 std::next(missing_experts.begin(),
                                                           std::min<size_t>(3, missing_experts.size()))),
                        ", ")));
    }
    return sources;
  }

 private:
  std::string ExpertLayoutsNote() const {
    return absl::StrCat("config.json: ", config_.moe.num_experts, " experts of width ",
                        config_.moe.expert_intermediate_size,
                        "; looked for mlp.experts.<e>.{gate,up,down}_proj.weight, fused mlp.experts.gate_up_proj / "
                        "down_proj, and block_sparse_moe.experts.<e>.{w1,w3,w2}.weight");
  }

  bool Has(const std::string& name) const { return present_.count(name) > 0; }

  std::optional<TensorSource> Find(const std::string& name, const std::vector<int64_t>& shape) const {
    if (Has(name)) return TensorSource{name, shape};
    if (name == prefix_ + "mlp.gate.weight" && Has(prefix_ + "block_sparse_moe.gate.weight")) {
      return TensorSource{prefix_ + "block_sparse_moe.gate.weight", shape};
    }
    std::optional<std::pair<int64_t, std::string>> expert = ExpertParameter(name, prefix_);
    if (!expert.has_value()) return std::nullopt;
    const auto& [index, projection] = *expert;
    const int64_t width = config_.moe.expert_intermediate_size;
    if (projection == "down_proj" && Has(prefix_ + "mlp.experts.down_proj")) {
      return TensorSource{prefix_ + "mlp.experts.down_proj", shape, index, 0, config_.hidden_size};
    }
    if ((projection == "gate_proj" || projection == "up_proj") && Has(prefix_ + "mlp.experts.gate_up_proj")) {
      const int64_t begin = projection == "gate_proj" ? 0 : width;
      return TensorSource{prefix_ + "mlp.experts.gate_up_proj", shape, index, begin, begin + width};
    }
    const char* legacy = projection == "gate_proj" ? "w1" : projection == "up_proj" ? "w3" : "w2";
    const std::string legacy_name = absl::StrCat(prefix_, "block_sparse_moe.experts.", index, ".", legacy, ".weight");
    if (Has(legacy_name)) return TensorSource{legacy_name, shape};
    return std::nullopt;
  }

  // Whether the stored tensor fits `source`; problems named once per stored tensor.
  bool CheckStored(const TensorSource& source, std::vector<std::string>& problems) {
    absl::StatusOr<torch::Tensor> stored = lookup_(source.stored_name);
    if (!stored.ok()) {
      problems.push_back(std::string(stored.status().message()));
      return false;
    }
    std::vector<int64_t> expected = source.shape;
    std::string meaning;
    if (source.expert >= 0) {
      const int64_t width = config_.moe.expert_intermediate_size;
      const bool down = absl::EndsWith(source.stored_name, "down_proj");
      expected = down ? std::vector<int64_t>{config_.moe.num_experts, config_.hidden_size, width}
                      : std::vector<int64_t>{config_.moe.num_experts, 2 * width, config_.hidden_size};
      meaning = down ? " (num_experts, hidden_size, moe_intermediate_size)"
                     : " (num_experts, 2 * moe_intermediate_size, hidden_size)";
    }
    const bool first_report = reported_.insert(source.stored_name).second;
    if (stored->sizes() != c10::IntArrayRef(expected)) {
      if (first_report) {
        problems.push_back(absl::StrCat(source.stored_name, " has shape ", ShapeString(stored->sizes()),
                                        ", config.json implies ", ShapeString(expected), meaning));
      }
      return false;
    }
    if (!stored->is_floating_point()) {
      if (first_report) {
        problems.push_back(absl::StrCat(source.stored_name, " has dtype ",
                                        std::string(c10::toString(stored->scalar_type())),
                                        ", expected a floating-point tensor (is the checkpoint already quantized?)"));
      }
      return false;
    }
    return true;
  }

  const ModelConfig& config_;
  const int layer_;
  const std::string prefix_;
  const std::set<std::string>& present_;
  const CheckpointLayout::Lookup& lookup_;
  std::set<std::string> reported_;
};

}  // namespace

int LayerOfTensor(const ModelConfig& config, const std::string& name) {
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, config.module_prefix) || !absl::ConsumePrefix(&rest, "layers.")) return -1;
  const size_t dot = rest.find('.');
  int layer;
  if (dot == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, dot), &layer)) return -1;
  return layer;
}

absl::StatusOr<CheckpointLayout> CheckpointLayout::Build(const ModelConfig& config,
                                                         const std::vector<std::string>& names, const Lookup& lookup,
                                                         const std::string& model_dir) {
  CheckpointLayout layout;
  std::vector<std::set<std::string>> by_layer(config.num_hidden_layers);
  std::vector<std::string> problems;
  for (const std::string& name : names) {
    bool ignored = false;
    for (const std::string& prefix : config.ignored_tensor_prefixes) ignored |= absl::StartsWith(name, prefix);
    if (ignored) continue;
    const int layer = LayerOfTensor(config, name);
    if (layer >= 0 && layer < config.num_hidden_layers) {
      by_layer[layer].insert(name);
    } else if (layer >= config.num_hidden_layers) {
      problems.push_back(absl::StrCat("unexpected ", name, " (config.json has ", config.num_hidden_layers,
                                      " decoder layers)"));
    } else if (name == "lm_head.weight" || absl::EndsWith(name, "rotary_emb.inv_freq")) {
      continue;  // checked by CausalLm (ignored when tied, as transformers does)
    } else if (!absl::StartsWith(name, config.module_prefix)) {
      layout.passthrough_.push_back(name);
    } else if (!absl::StartsWith(name, config.module_prefix + "embed_tokens.") &&
               !absl::StartsWith(name, config.module_prefix + "norm.")) {
      problems.push_back(absl::StrCat("unexpected ", name));
    }  // the embedding and final norm are checked by CausalLm
  }
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
    std::vector<std::string> layer_problems;
    std::set<std::string> used;
    LayerResolver resolver(config, layer, by_layer[layer], lookup);
    layout.layers_.push_back(resolver.Resolve(layer_problems, used));
    for (const std::string& name : by_layer[layer]) {
      // Old checkpoints carry RoPE buffers; transformers ignores them too.
      if (used.count(name) == 0 && !absl::EndsWith(name, "rotary_emb.inv_freq")) {
        layer_problems.push_back(absl::StrCat("unexpected ", name));
      }
    }
    if (!layer_problems.empty()) {
      problems.push_back(absl::StrCat("decoder layer ", layer, " does not match config.json (", config.model_type,
                                      "): ", absl::StrJoin(layer_problems, "; ")));
    }
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(model_dir, ": ", absl::StrJoin(problems, "\n")));
  }
  return layout;
}

torch::Tensor CheckpointLayout::Extract(const torch::Tensor& stored, const TensorSource& source) {
  if (source.expert < 0) return stored;
  return stored.select(0, source.expert).slice(0, source.rows_begin, source.rows_end);
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
