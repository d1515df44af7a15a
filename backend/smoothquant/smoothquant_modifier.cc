#include "backend/smoothquant/smoothquant_modifier.h"

#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "backend/model/config.h"
#include "mapping/base/status_macros.h"
#include "mapping/smoothquant/resolve.h"
#include "mapping/smoothquant/smoothquant_mappings.h"

namespace wring {
namespace backend {
namespace smoothquant {
namespace {

// The decoder layer of "model.layers.<n>.<rest>", with <rest>.
bool SplitLayer(const std::string& name, int* layer, std::string* rest) {
  constexpr absl::string_view kPrefix = "model.layers.";
  if (!absl::StartsWith(name, kPrefix)) return false;
  std::vector<std::string> parts =
      absl::StrSplit(name.substr(kPrefix.size()), absl::MaxSplits('.', 1));
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], layer)) return false;
  *rest = parts[1];
  return true;
}

// The Linears whose input is the norm's output in wring's forward.
const std::set<std::string>* FedBy(const std::string& norm) {
  static const auto* attention =
      new std::set<std::string>{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
  static const auto* mlp = new std::set<std::string>{"mlp.gate_proj", "mlp.up_proj"};
  if (norm == "input_layernorm") return attention;
  if (norm == "post_attention_layernorm") return mlp;
  return nullptr;
}

absl::Status CheckSmoothable(const std::string& where, const std::string& smooth,
                             const std::vector<std::string>& balance, int* layer) {
  std::string norm;
  const std::set<std::string>* fed = SplitLayer(smooth, layer, &norm) ? FedBy(norm) : nullptr;
  bool ok = fed != nullptr;
  for (const std::string& b : balance) {
    int balance_layer = -1;
    std::string rest;
    ok = ok && SplitLayer(b, &balance_layer, &rest) && balance_layer == *layer && fed->count(rest) > 0;
  }
  if (ok) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat(
      where, ": the mapping ", smooth, " -> ", absl::StrJoin(balance, ", "),
      " is not one `wring compress` can smooth: it smooths a decoder layer's input_layernorm "
      "into self_attn q/k/v_proj and its post_attention_layernorm into mlp gate/up_proj "
      "(the registry's mappings for the supported families); give SmoothQuantModifier "
      "`mappings` of that form, or use llm-compressor"));
}

}  // namespace

// One decoder layer: ranges during calibration, smoothing at the epoch end.
class SmoothQuantLayer final : public pipeline::LayerCalibration {
 public:
  SmoothQuantLayer(SmoothQuantModifier& modifier, std::vector<const SmoothQuantModifier::Mapping*> mappings)
      : modifier_(modifier), mappings_(std::move(mappings)), ranges_(mappings_.size()) {}

  bool ChangesWeights() const override { return true; }

  absl::Status ObserveLinearInput(const std::string& linear, const torch::Tensor& input) override {
    // Every balance layer reads the smooth layer's output: observe it once,
    // at the first one.
    for (size_t i = 0; i < mappings_.size(); ++i) {
      if (mappings_[i]->balance.front() == linear) return ranges_[i].Observe(input);
    }
    return absl::OkStatus();
  }

  absl::Status EndLayer(const pipeline::LayerContext& context, model::Weights& weights,
                        pipeline::LayerQuantizers& quantizers) override {
    (void)quantizers;
    for (size_t i = 0; i < mappings_.size(); ++i) {
      WRING_RETURN_IF_ERROR(ranges_[i].CombineOverRanks(
          context.collectives, absl::StrCat("SmoothQuant range of ", mappings_[i]->smooth)));
    }
    for (size_t i = 0; i < mappings_.size(); ++i) {
      const SmoothQuantModifier::Mapping& m = *mappings_[i];
      if (ranges_[i].empty()) continue;  // upstream: not in scales_, skipped
      std::vector<torch::Tensor> balance;
      for (const std::string& b : m.balance) balance.push_back(weights.at(b + ".weight").clone());
      WRING_ASSIGN_OR_RETURN(torch::Tensor scales, SmoothingScales(ranges_[i], balance,
                                                                   modifier_.strength_,
                                                                   modifier_.algorithm_));
      torch::Tensor smooth_weight = weights.at(m.smooth + ".weight").clone();
      auto bias_it = weights.find(m.smooth + ".bias");
      torch::Tensor smooth_bias = bias_it == weights.end() ? torch::Tensor() : bias_it->second.clone();
      WRING_RETURN_IF_ERROR(ApplySmoothing(scales, smooth_weight, smooth_bias, balance));
      for (size_t k = 0; k < m.balance.size(); ++k) weights[m.balance[k] + ".weight"] = balance[k];
      weights[m.smooth + ".weight"] = smooth_weight;
      if (smooth_bias.defined()) weights[m.smooth + ".bias"] = smooth_bias;

      SmoothedMapping done;
      done.smooth = m.smooth;
      done.balance = m.balance;
      done.layer = context.layer;
      done.max_activation_range = (ranges_[i].max() - ranges_[i].min()).max().item<double>();
      done.min_scale = scales.min().item<double>();
      done.max_scale = scales.max().item<double>();
      done.scales = scales.to(torch::kCPU);
      modifier_.smoothed_.push_back(std::move(done));
    }
    return absl::OkStatus();
  }

 private:
  SmoothQuantModifier& modifier_;
  std::vector<const SmoothQuantModifier::Mapping*> mappings_;
  std::vector<ChannelRange> ranges_;
};

absl::StatusOr<std::unique_ptr<SmoothQuantModifier>> SmoothQuantModifier::Create(
    const pipeline::CompressionPlan& plan, const recipe::SmoothQuantModifier& modifier,
    const std::string& recipe_name) {
  const std::string where = absl::StrCat(recipe_name, ": SmoothQuantModifier");
  std::vector<std::string> log;
  mapping::smoothquant::ChosenSmoothQuantMappings chosen;
  const bool from_recipe = modifier.has_mappings();
  if (from_recipe) {
    for (const auto& m : modifier.mappings().mappings()) {
      chosen.mappings.push_back(
          {std::vector<std::string>(m.balance_layers().begin(), m.balance_layers().end()),
           m.smooth_layer()});
    }
  } else {
    log.push_back("INFO No SmoothQuantModifier.mappings provided, inferring from model...");
    chosen = mapping::smoothquant::ChooseSmoothQuantMappings(plan.model.config,
                                                             plan.model.architecture);
    if (chosen.error.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", *chosen.error));
    }
  }
  for (const std::string& line : chosen.log) log.push_back(line);
  const std::vector<std::string> ignore(modifier.ignore().begin(), modifier.ignore().end());
  absl::StatusOr<mapping::smoothquant::SmoothQuantResolution> resolution =
      mapping::smoothquant::ResolveSmoothQuantMappings(plan.model.tree, chosen.mappings, ignore,
                                                       from_recipe);
  if (!resolution.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", resolution.status().message()));
  }
  if (resolution->error.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": ", *resolution->error, " (", resolution->cause.value_or(""), ")"));
  }
  for (const std::string& line : resolution->log) log.push_back(line);
  std::vector<Mapping> mappings;
  for (const mapping::smoothquant::ResolvedSmoothQuantMapping& r : resolution->resolved) {
    Mapping m;
    m.smooth = plan.model.tree.module(r.smooth).name;
    for (int b : r.balance) m.balance.push_back(plan.model.tree.module(b).name);
    WRING_RETURN_IF_ERROR(CheckSmoothable(where, m.smooth, m.balance, &m.layer));
    mappings.push_back(std::move(m));
  }
  const double strength = modifier.has_smoothing_strength() ? modifier.smoothing_strength() : 0.5;
  const Algorithm algorithm = modifier.has_algorithm() && modifier.algorithm() == "log_equalization"
                                  ? Algorithm::kLogEqualization
                                  : Algorithm::kSmoothQuant;
  return std::unique_ptr<SmoothQuantModifier>(
      new SmoothQuantModifier(std::move(mappings), strength, algorithm, std::move(log)));
}

absl::StatusOr<std::unique_ptr<pipeline::LayerCalibration>> SmoothQuantModifier::StartLayer(
    const pipeline::LayerContext& context, const model::Weights& weights) {
  (void)weights;
  std::vector<const Mapping*> layer;
  for (const Mapping& m : mappings_) {
    if (m.layer == context.layer) layer.push_back(&m);
  }
  if (layer.empty()) return std::unique_ptr<pipeline::LayerCalibration>();
  return std::unique_ptr<pipeline::LayerCalibration>(new SmoothQuantLayer(*this, std::move(layer)));
}

pipeline::ModifierReport SmoothQuantModifier::Report() const {
  pipeline::ModifierReport report;
  if (smoothed_.empty()) return report;
  report.json_key = "smoothquant";
  report.json = mapping::Json::array();
  absl::StrAppendFormat(&report.text, "  SmoothQuant (smoothing_strength %g%s): scales per mapping\n",
                        strength_, algorithm_ == Algorithm::kLogEqualization ? ", log_equalization" : "");
  for (const SmoothedMapping& m : smoothed_) {
    report.json.push_back({{"smooth_layer", m.smooth},
                           {"balance_layers", m.balance},
                           {"max_activation_range", m.max_activation_range},
                           {"min_scale", m.min_scale},
                           {"max_scale", m.max_scale}});
    absl::StrAppendFormat(&report.text, "    %-40s scales %.3g .. %.3g (activation range up to %.3g)\n",
                          m.smooth, m.min_scale, m.max_scale, m.max_activation_range);
  }
  return report;
}

}  // namespace smoothquant
}  // namespace backend
}  // namespace wring
