#include "backend/gptq/gptq_modifier.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "backend/model/config.h"
#include "mapping/base/status_macros.h"
#include "mapping/match/match_table.h"
#include "mapping/match/matchers.h"
#include "mapping/quantization/quantization_config.h"

namespace wring {
namespace backend {
namespace gptq {
namespace {

// Equal for weight arguments upstream would batch together (it compares
// their JSON).
std::string ArgsKey(const observe::ObservedArgs& args, bool ordering) {
  const quantize::QuantizationArgs& q = args.quantize;
  std::string key = absl::StrCat(q.num_bits, "|", static_cast<int>(q.type), "|", q.symmetric, "|",
                                 static_cast<int>(q.strategy), "|", q.group_size, "|", q.block_rows,
                                 "x", q.block_cols, "|", args.observer.value_or("-"), "|",
                                 ordering ? "ordered" : "unordered");
  for (const auto& [k, v] : args.observer_kwargs) absl::StrAppend(&key, "|", k, "=", v);
  return key;
}

}  // namespace

// One decoder layer: Hessians during calibration, GPTQ at the epoch end.
class GptqLayer final : public pipeline::LayerCalibration {
 public:
  GptqLayer(GptqModifier& modifier, std::vector<std::string> targets)
      : modifier_(modifier), targets_(std::move(targets)) {
    target_set_.insert(targets_.begin(), targets_.end());
  }

  bool ChangesWeights() const override { return true; }

  absl::Status ObserveLinearInput(const std::string& linear, const torch::Tensor& input) override {
    if (target_set_.count(linear) == 0) return absl::OkStatus();
    return hessians_.Add(linear, input);
  }

  absl::Status EndLayer(const pipeline::LayerContext& context, model::Weights& weights,
                        pipeline::LayerQuantizers& quantizers) override {
    // Every rank then solves the same Hessians into the same weights, which
    // its propagation pass needs.
    WRING_RETURN_IF_ERROR(hessians_.SumOverRanks(
        context.collectives, absl::StrCat("GPTQ Hessians of decoder layer ", context.layer)));
    // Modules with and without activation ordering need separate
    // factorizations; each set runs as upstream would batch it.
    std::map<bool, std::vector<GptqModule>> by_ordering;
    for (const std::string& name : targets_) {
      auto quantizer = quantizers.linears.find(name);
      if (quantizer == quantizers.linears.end() || !quantizer->second->weight_args().has_value()) {
        return absl::InternalError(absl::StrCat("GPTQ: no weight quantizer for ", name));
      }
      const bool ordering = modifier_.ordered_.count(name) > 0;
      const observe::ObservedArgs& args = *quantizer->second->weight_args();
      GptqModule module;
      module.name = name;
      module.weight = weights.at(name + ".weight");
      module.args = args.quantize;
      module.args_key = ArgsKey(args, ordering);
      WRING_ASSIGN_OR_RETURN(module.qparams, quantizer->second->ObserveWeight(module.weight));
      by_ordering[ordering].push_back(std::move(module));
    }
    std::map<std::string, QuantizedModule> done;
    for (auto& [ordering, modules] : by_ordering) {
      GptqOptions options = modifier_.options_;
      options.activation_ordering = ordering;
      WRING_ASSIGN_OR_RETURN(std::vector<QuantizedModule> results,
                             QuantizeModules(modules, hessians_, options, modifier_.batching_,
                                             &modifier_.log_));
      for (QuantizedModule& r : results) done[r.name] = std::move(r);
    }
    for (const std::string& name : targets_) {
      QuantizedModule& r = done.at(name);
      weights[name + ".weight"] = r.weight;
      modifier_.modules_.push_back({name, context.layer, r.loss, r.rtn_fallback});
    }
    hessians_.Clear();
    return absl::OkStatus();
  }

 private:
  GptqModifier& modifier_;
  std::vector<std::string> targets_;
  std::set<std::string> target_set_;
  LayerHessians hessians_;
};

absl::StatusOr<std::unique_ptr<GptqModifier>> GptqModifier::Create(
    const pipeline::CompressionPlan& plan, const recipe::GptqModifier& modifier,
    const std::string& recipe_name, bool upstream_factorization) {
  const std::string where = absl::StrCat(recipe_name, ": GPTQModifier");
  GptqOptions options;
  options.upstream_factorization = upstream_factorization;
  if (modifier.has_block_size()) options.block_size = modifier.block_size();
  if (options.block_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".block_size must be a positive number of columns, got ", options.block_size));
  }
  if (modifier.has_dampening_frac()) options.dampening_frac = modifier.dampening_frac();
  BatchedQuantization batching;
  if (modifier.has_batched_quantization()) {
    const recipe::BatchedQuantization& b = modifier.batched_quantization();
    if (b.mode_case() == recipe::BatchedQuantization::kDisabled) {
      batching.mode = BatchedQuantization::Mode::kNone;
    } else if (b.mode_case() == recipe::BatchedQuantization::kBatchSize) {
      batching.mode = BatchedQuantization::Mode::kLimit;
      batching.limit = b.batch_size();
    }
  }

  // match_named_modules(model, resolved_targets, ignore) among the Linears
  // that carry a weight scheme (on_calibration_start's hooks).
  absl::StatusOr<mapping::ResolvedQuantizationConfig> config = mapping::ResolveGptqModifier(modifier);
  if (!config.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", config.status().message()));
  const mapping::ModuleTree& tree = plan.model.tree;
  mapping::PatternRegistry registry;
  WRING_ASSIGN_OR_RETURN(std::vector<int> target_ids, registry.AddAll(config->ResolvedTargets()));
  WRING_ASSIGN_OR_RETURN(std::vector<int> ignore_ids, registry.AddAll(config->ignore));
  WRING_ASSIGN_OR_RETURN(mapping::MatchTable table, mapping::MatchTable::Build(tree, registry));
  std::vector<std::string> targets;
  std::set<std::string> ordered;
  for (int m : mapping::MatchNamedModules(tree, table, target_ids, ignore_ids).modules) {
    const pipeline::PlannedModule* planned = plan.FindLinear(tree.module(m).name);
    if (planned == nullptr || !planned->scheme.weights.has_value()) continue;
    targets.push_back(planned->name);
    // weight or its alias static; group is refused by the plan
    if (planned->scheme.weights->actorder.has_value()) ordered.insert(planned->name);
  }
  if (targets.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": GPTQModifier was unable to find any modules to quantize. Please check "
               "quantization `config_groups` and `targets` in recipe"));
  }
  for (const std::string& name : targets) {
    if (!absl::StartsWith(name, "model.layers.")) {
      return absl::UnimplementedError(absl::StrCat(
          where, ": ", name, " is outside the decoder layers; `wring compress` runs GPTQ on "
          "decoder-layer Linear layers only (add it to the modifier's ignore list)"));
    }
  }
  auto out =
      std::unique_ptr<GptqModifier>(new GptqModifier(std::move(targets), std::move(ordered), options,
                                                     batching));
  return out;
}

absl::StatusOr<std::unique_ptr<pipeline::LayerCalibration>> GptqModifier::StartLayer(
    const pipeline::LayerContext& context, const model::Weights& weights) {
  (void)weights;
  const std::string prefix = model::LayerPrefix(context.layer);
  std::vector<std::string> layer_targets;
  for (const std::string& name : targets_) {
    if (absl::StartsWith(name, prefix)) layer_targets.push_back(name);
  }
  if (layer_targets.empty()) return std::unique_ptr<pipeline::LayerCalibration>();
  return std::unique_ptr<pipeline::LayerCalibration>(
      new GptqLayer(*this, std::move(layer_targets)));
}

std::string GptqModifier::RtnFallbackWarning() const {
  std::vector<std::string> fallback;
  for (const ModuleLoss& m : modules_) {
    if (m.rtn_fallback) fallback.push_back(m.name);
  }
  return RtnFallbackSummary(fallback, static_cast<int64_t>(modules_.size()));
}

pipeline::ModifierReport GptqModifier::Report() const {
  pipeline::ModifierReport report;
  if (modules_.empty()) return report;
  report.json_key = "gptq";
  mapping::Json modules = mapping::Json::array();
  mapping::Json fallback = mapping::Json::array();
  absl::StrAppend(&report.text, "  GPTQ loss per Linear (as llm-compressor logs it)\n");
  std::map<int, std::vector<std::string>> by_layer;
  for (const ModuleLoss& m : modules_) {
    modules.push_back({{"name", m.name}, {"layer", m.layer}, {"loss", m.loss},
                       {"rtn_fallback", m.rtn_fallback}});
    if (m.rtn_fallback) fallback.push_back(m.name);
    const std::string short_name = m.name.substr(model::LayerPrefix(m.layer).size());
    by_layer[m.layer].push_back(
        absl::StrFormat("%s %.4g%s", short_name, m.loss, m.rtn_fallback ? " (RTN)" : ""));
  }
  for (const auto& [layer, entries] : by_layer) {
    absl::StrAppendFormat(&report.text, "    layer %d: %s\n", layer, absl::StrJoin(entries, ", "));
  }
  const std::string warning = RtnFallbackWarning();
  if (!warning.empty()) absl::StrAppend(&report.text, "  warning: ", warning, "\n");
  report.json = {{"modules", std::move(modules)},
                 {"rtn_fallback", std::move(fallback)},
                 {"rtn_fallback_summary", warning},
                 {"block_size", options_.block_size},
                 {"dampening_frac", options_.dampening_frac}};
  return report;
}

}  // namespace gptq
}  // namespace backend
}  // namespace wring
