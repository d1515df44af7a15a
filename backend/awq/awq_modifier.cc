#include "backend/awq/awq_modifier.h"

#include <chrono>
#include <map>
#include <memory>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/awq/linear_gram.h"
#include "backend/awq/search_flops.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

// AWQ's part of one decoder layer: statistics during the calibration pass,
// smoothing at the sequential epoch end.
class AwqLayer final : public pipeline::LayerCalibration {
 public:
  // A Linear parent that is its mapping's only balance layer is scored by
  // the Gram form when that needs fewer FLOPs than a forward per candidate
  // (more calibration tokens than the Linear has inputs, roughly) and the
  // options allow it.
  static absl::StatusOr<std::unique_ptr<AwqLayer>> Create(
      const std::vector<PlannedMapping>& mappings, const AwqOptions& options,
      const pipeline::LayerContext& context, const model::Weights& weights,
      std::vector<MappingQuality>& out) {
    auto layer = absl::WrapUnique(new AwqLayer(mappings, options, out));
    WRING_ASSIGN_OR_RETURN(const std::vector<GridPoint> grid, GridSearchParams(options));
    const int points = static_cast<int>(grid.size());
    const model::ModelConfig& config = context.model.config();
    for (const PlannedMapping& m : mappings) {
      bool gram = options.linear_parent_loss != LinearParentLoss::kForward &&
                  HasLinearParentShortcut(m.mapping);
      if (gram && options.linear_parent_loss == LinearParentLoss::kCheaper) {
        WRING_ASSIGN_OR_RETURN(const double with_gram,
                               GridSearchFlops(config, m.mapping, weights,
                                               context.calibration_tokens, points, true));
        WRING_ASSIGN_OR_RETURN(const double with_forward,
                               GridSearchFlops(config, m.mapping, weights,
                                               context.calibration_tokens, points, false));
        gram = with_gram < with_forward;
      }
      // A parent shared with a mapping that needs its outputs keeps its inputs.
      auto [it, inserted] = layer->gram_parent_.emplace(m.mapping.parent, gram);
      if (!inserted) it->second = it->second && gram;
    }
    return layer;
  }

  bool ChangesWeights() const override { return true; }

  absl::Status ObserveLinearInput(const std::string& linear, const torch::Tensor& input) override {
    for (size_t i = 0; i < mappings_.size(); ++i) {
      if (mappings_[i].statistic_input == linear) WRING_RETURN_IF_ERROR(stats_[i].Add(input));
    }
    for (const auto& [parent, parent_linear] : parent_input_) {
      if (parent_linear != linear) continue;
      if (gram_parent_.at(parent)) {
        WRING_RETURN_IF_ERROR(grams_[parent].Add(input));
      } else {
        parent_inputs_[parent].push_back(input);
      }
    }
    return absl::OkStatus();
  }

  // AWQModifier's sequential epoch end: each mapping in turn on the weights
  // the previous one left.
  absl::Status EndLayer(const pipeline::LayerContext& context, model::Weights& weights,
                        pipeline::LayerQuantizers&) override {
    // A sparse MoE parent routes the same tokens with the same router for
    // every candidate: its routing is kept for the mapping's search.
    std::shared_ptr<model::MoeRoutingCache> routing;
    const ParentForward forward = [&context, &routing](const std::string& parent, const model::Weights& w,
                                                       const torch::Tensor& input,
                                                       const LinearWeightSource& candidate) {
      model::LayerHooks hooks;
      hooks.linear_weight = candidate;
      hooks.moe_routing = routing;
      return context.model.SubmoduleForward(context.layer, w, parent, input, hooks);
    };
    WRING_ASSIGN_OR_RETURN(const std::vector<GridPoint> grid, GridSearchParams(options_));
    WRING_RETURN_IF_ERROR(SumOverRanks(context));
    for (size_t i = 0; i < mappings_.size(); ++i) {
      const LayerMapping& mapping = mappings_[i].mapping;
      const bool gram = gram_parent_.at(mapping.parent);
      routing = std::make_shared<model::MoeRoutingCache>();
      WRING_ASSIGN_OR_RETURN(const double flops,
                             GridSearchFlops(context.model.config(), mapping, weights,
                                             context.calibration_tokens,
                                             static_cast<int>(grid.size()), gram));
      const auto start = std::chrono::steady_clock::now();
      WRING_ASSIGN_OR_RETURN(
          MappingResult r,
          gram ? SmoothLinearParentMapping(mapping, options_, stats_[i], grams_[mapping.parent],
                                           weights)
               : SmoothMapping(mapping, options_, stats_[i], parent_inputs_[mapping.parent],
                               forward, weights, &context.collectives));
      // Nothing after a parent's last mapping needs its Gram matrix: an MoE
      // layer's hundreds of them (and what each loss derived from one) go
      // as the search moves on.
      if (gram && LastMappingOf(mapping.parent) == i) grams_.erase(mapping.parent);
      MappingQuality q;
      q.search_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      q.search_flops = flops;
      q.loss = gram ? "gram" : "forward";
      q.smooth_layer = r.smooth;
      q.parent = r.parent;
      q.skipped = r.skipped.value_or("");
      q.best_ratio = r.best.ratio;
      q.best_duo_scaling = r.best.duo_scaling;
      q.initial_error = r.initial_error;
      q.best_error = r.best_error;
      q.scales = r.scales;
      out_.push_back(std::move(q));
    }
    return absl::OkStatus();
  }

 private:
  // Data-parallel workers each saw their own samples: the x statistics and
  // the Gram matrices become sums over all ranks' samples before any
  // search (the forward-loss parents sum each candidate's loss instead).
  absl::Status SumOverRanks(const pipeline::LayerContext& context) {
    for (size_t i = 0; i < mappings_.size(); ++i) {
      WRING_RETURN_IF_ERROR(stats_[i].SumOverRanks(
          context.collectives, absl::StrCat("the AWQ activation statistics of ",
                                            mappings_[i].mapping.smooth)));
    }
    for (const auto& [parent, gram] : gram_parent_) {
      if (!gram) continue;
      WRING_RETURN_IF_ERROR(grams_[parent].SumOverRanks(
          context.collectives, absl::StrCat("the AWQ Gram matrix of ", parent, "'s inputs")));
    }
    return absl::OkStatus();
  }

  size_t LastMappingOf(const std::string& parent) const {
    size_t last = 0;
    for (size_t i = 0; i < mappings_.size(); ++i) {
      if (mappings_[i].mapping.parent == parent) last = i;
    }
    return last;
  }

  AwqLayer(const std::vector<PlannedMapping>& mappings, const AwqOptions& options,
           std::vector<MappingQuality>& out)
      : mappings_(mappings), options_(options), out_(out), stats_(mappings.size()) {
    for (const PlannedMapping& m : mappings) parent_input_[m.mapping.parent] = m.parent_input;
  }

  const std::vector<PlannedMapping>& mappings_;
  const AwqOptions& options_;
  std::vector<MappingQuality>& out_;
  std::vector<ActivationStats> stats_;
  std::map<std::string, std::string> parent_input_;  // parent -> Linear sharing its input
  std::map<std::string, bool> gram_parent_;          // parent -> scored by the Gram form
  std::map<std::string, std::vector<torch::Tensor>> parent_inputs_;
  std::map<std::string, LinearGram> grams_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AwqModifier>> AwqModifier::Create(
    const pipeline::CompressionPlan& plan, const model::ModelConfig& config,
    const std::string& recipe_name, LinearParentLoss loss) {
  WRING_ASSIGN_OR_RETURN(absl::optional<AwqPlan> awq, PlanAwq(plan, config, recipe_name));
  if (!awq.has_value()) return nullptr;
  awq->options.linear_parent_loss = loss;
  return absl::WrapUnique(new AwqModifier(*std::move(awq)));
}

absl::StatusOr<std::unique_ptr<pipeline::LayerCalibration>> AwqModifier::StartLayer(
    const pipeline::LayerContext& context, const model::Weights& weights) {
  auto layer = plan_.layers.find(context.layer);
  if (layer == plan_.layers.end()) return nullptr;
  WRING_ASSIGN_OR_RETURN(std::unique_ptr<AwqLayer> calibration,
                         AwqLayer::Create(layer->second, plan_.options, context, weights, mappings_));
  return std::unique_ptr<pipeline::LayerCalibration>(std::move(calibration));
}

pipeline::ModifierReport AwqModifier::Report() const {
  pipeline::ModifierReport report;
  if (mappings_.empty()) return report;
  report.json_key = "awq";
  report.json = mapping::Json::array();
  absl::StrAppend(&report.text, "  AWQ (parent output MSE, quantized: no smoothing -> best scales)\n");
  for (const MappingQuality& m : mappings_) {
    mapping::Json entry = {{"smooth_layer", m.smooth_layer}, {"parent", m.parent}};
    if (!m.skipped.empty()) {
      entry["skipped"] = m.skipped;
      absl::StrAppendFormat(&report.text, "    %s: skipped (%s)\n", m.smooth_layer, m.skipped);
    } else {
      entry["best_ratio"] = m.best_ratio;
      entry["best_duo_scaling"] = m.best_duo_scaling;
      entry["initial_error"] = m.initial_error;
      entry["best_error"] = m.best_error;
      entry["loss"] = m.loss;
      entry["search_flops"] = m.search_flops;
      entry["search_seconds"] = m.search_seconds;
      absl::StrAppendFormat(&report.text, "    %-40s %.3e -> %.3e (ratio %.3f%s)\n",
                            m.smooth_layer, m.initial_error, m.best_error, m.best_ratio,
                            m.best_duo_scaling ? ", duo" : "");
    }
    report.json.push_back(std::move(entry));
  }
  return report;
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
