#include "backend/awq/search_flops.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

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
  double tokens = 0, squared = 0;
  for (int64_t l : sample_tokens) {
    tokens += static_cast<double>(l);
    squared += static_cast<double>(l) * static_cast<double>(l);
  }
  const double hidden = static_cast<double>(config.hidden_size);
  if (absl::EndsWith(parent, ".self_attn")) {
    const double q = static_cast<double>(config.num_attention_heads * config.head_dim);
    const double kv = static_cast<double>(config.num_key_value_heads * config.head_dim);
    const double projections = 2 * tokens * hidden * (q + 2 * kv) + 2 * tokens * q * hidden;
    const double scores_and_values = 2 * 2 * squared * q;
    return projections + scores_and_values;
  }
  if (absl::EndsWith(parent, ".mlp")) {
    return 2 * tokens * hidden * static_cast<double>(config.intermediate_size) * 3;
  }
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
    return 2 * tokens * in * in + grid_points * 2 * out * in * in;
  }
  auto forward = ParentForwardFlops(config, mapping.parent, weights, sample_tokens);
  if (!forward.ok()) return forward.status();
  return (grid_points + 1) * *forward;
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
