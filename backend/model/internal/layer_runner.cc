#include "backend/model/internal/layer_runner.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/model/internal/decoder_math.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

std::string Shape(const torch::Tensor& t) { return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]"); }

}  // namespace

absl::Status CheckHookResult(const torch::Tensor& result, const torch::Tensor& argument, absl::string_view hook,
                             absl::string_view module) {
  if (result.defined() && result.sizes() == argument.sizes() && result.scalar_type() == argument.scalar_type() &&
      result.device() == argument.device()) {
    return absl::OkStatus();
  }
  if (!result.defined()) {
    return absl::InvalidArgumentError(absl::StrCat("LayerHooks.", hook, " for ", module, " returned no tensor"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "LayerHooks.", hook, " for ", module, " returned ", Shape(result), " ",
      std::string(c10::toString(result.scalar_type())), " on ", result.device().str(), "; expected ", Shape(argument),
      " ", std::string(c10::toString(argument.scalar_type())), " on ", argument.device().str()));
}

absl::StatusOr<torch::Tensor> LayerRunner::Linear(const std::string& module, const torch::Tensor& x) const {
  return Linear(module, x, torch::Tensor());
}

absl::StatusOr<torch::Tensor> LayerRunner::Linear(const std::string& module, const torch::Tensor& x,
                                                  const torch::Tensor& rows) const {
  const std::string name = prefix_ + module;
  torch::Tensor input = x;
  if (hooks_.linear_input) {
    input = hooks_.linear_input(name, x);
    WRING_RETURN_IF_ERROR(CheckHookResult(input, x, "linear_input", name));
  }
  if (rows.defined()) input = input.index_select(0, rows);
  auto bias = weights_.find(name + ".bias");
  const torch::Tensor bias_or_none = bias == weights_.end() ? torch::Tensor() : bias->second;
  const torch::Tensor& stored = Weight(module);
  if (hooks_.linear_weight) {
    WRING_ASSIGN_OR_RETURN(const torch::Tensor weight, hooks_.linear_weight(name));
    if (weight.defined()) {
      const bool usable = weight.sizes() == stored.sizes() && weight.device() == stored.device() &&
                          (weight.scalar_type() == stored.scalar_type() ||
                           (weight.scalar_type() == torch::kFloat && IsCpuHalfPrecision(input)));
      if (!usable) {
        return absl::InvalidArgumentError(absl::StrCat(
            "LayerHooks.linear_weight for ", name, " returned ", Shape(weight), " ",
            std::string(c10::toString(weight.scalar_type())), " on ", weight.device().str(), "; expected ",
            Shape(stored), " ", std::string(c10::toString(stored.scalar_type())), " on ", stored.device().str(),
            " (or float32 for a half-precision model on the CPU)"));
      }
      return internal::Linear(input, weight, bias_or_none);
    }
  }
  return internal::Linear(input, stored, bias_or_none);
}

absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> LayerRunner::QueryKey(torch::Tensor query,
                                                                               torch::Tensor key) const {
  if (!hooks_.query_key) return std::make_pair(std::move(query), std::move(key));
  const std::string name = prefix_ + "self_attn";
  std::pair<torch::Tensor, torch::Tensor> used = hooks_.query_key(name, query, key);
  WRING_RETURN_IF_ERROR(CheckHookResult(used.first, query, "query_key (query)", name));
  WRING_RETURN_IF_ERROR(CheckHookResult(used.second, key, "query_key (key)", name));
  return used;
}

absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> LayerRunner::KeyValue(torch::Tensor key,
                                                                               torch::Tensor value) const {
  if (!hooks_.key_value) return std::make_pair(std::move(key), std::move(value));
  const std::string name = prefix_ + "self_attn";
  std::pair<torch::Tensor, torch::Tensor> used = hooks_.key_value(name, key, value);
  WRING_RETURN_IF_ERROR(CheckHookResult(used.first, key, "key_value (key)", name));
  WRING_RETURN_IF_ERROR(CheckHookResult(used.second, value, "key_value (value)", name));
  return used;
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
