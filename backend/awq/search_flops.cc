#include "backend/awq/search_flops.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/awq/factored_gram_loss.h"
#include "backend/model/submodules.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

absl::StatusOr<std::pair<double, double>> LinearShape(const model::Weights& weights,
                                                      const std::string& linear) {
  auto it = weights.find(linear + ".weight");
  if (it == weights.end() || it->second.dim() != 2) {
    return absl::NotFoundError(absl::StrCat("AWQ: no 2-D weight for the Linear parent ", linear));
  }
  return std::make_pair(static_cast<double>(it->second.size(0)),
                        static_cast<double>(it->second.size(1)));
}

}  // namespace

absl::StatusOr<double> ParentForwardFlops(const model::ModelConfig& config,
                                          const std::string& parent, const model::Weights& weights,
                                          const std::vector<int64_t>& sample_tokens) {
  int layer = -1;
  for (int i = 0; i < static_cast<int>(config.layers.size()) && layer < 0; ++i) {
    if (absl::StartsWith(parent, model::LayerPrefix(config, i))) layer = i;
  }
  // A block (attention, linear attention, dense or sparse MLP, an expert):
  // its Linears and routed tokens, from the config's blocks.
  if (layer >= 0 && !model::IsScalableByInput(config, layer, parent)) {
    return model::SubmoduleForwardFlops(config, layer, parent, sample_tokens);
  }
  double tokens = 0;
  for (int64_t l : sample_tokens) tokens += static_cast<double>(l);
  auto shape = LinearShape(weights, parent);
  if (!shape.ok()) return shape.status();
  return 2 * tokens * shape->first * shape->second;
}

absl::StatusOr<double> GridSearchFlops(const model::ModelConfig& config, const LayerMapping& mapping,
                                       const model::Weights& weights,
                                       const std::vector<int64_t>& sample_tokens, int grid_points,
                                       bool gram_loss) {
  if (gram_loss) {
    auto shape = LinearShape(weights, mapping.parent);
    if (!shape.ok()) return shape.status();
    const auto [out, in] = *shape;
    double tokens = 0;
    for (int64_t l : sample_tokens) tokens += static_cast<double>(l);
    const torch::Tensor& weight = weights.at(mapping.parent + ".weight");
    const double per_candidate = FactoredGramLoss::Applies(weight)
                                     ? FactoredGramLossFlops(static_cast<int64_t>(out), static_cast<int64_t>(in))
                                     : GramLossFlops(static_cast<int64_t>(out), static_cast<int64_t>(in));
    return 2 * tokens * in * in + grid_points * per_candidate;
  }
  auto forward = ParentForwardFlops(config, mapping.parent, weights, sample_tokens);
  if (!forward.ok()) return forward.status();
  return (grid_points + 1) * *forward;
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
