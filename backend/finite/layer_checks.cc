#include "backend/finite/layer_checks.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/finite/finite.h"

namespace wring {
namespace backend {
namespace finite {
namespace {

// The first non-finite tensor a rerun of the layer meets, in forward order.
struct FirstNonFinite {
  std::string what;
  torch::Tensor tensor;
  NonFinite found;
};

void Note(std::optional<FirstNonFinite>& first, const std::string& what, const torch::Tensor& tensor) {
  if (first.has_value()) return;
  std::optional<NonFinite> found = FindNonFinite(tensor);
  if (found.has_value()) first = FirstNonFinite{what, tensor, *std::move(found)};
}

// `hooks` wrapped so that every tensor they see and return is checked.
model::LayerHooks Checking(const model::LayerHooks& hooks, std::optional<FirstNonFinite>& first) {
  model::LayerHooks checking;
  checking.linear_input = [&hooks, &first](const std::string& name, const torch::Tensor& input) {
    Note(first, absl::StrCat("the input of ", name), input);
    torch::Tensor used = hooks.linear_input ? hooks.linear_input(name, input) : input;
    Note(first, absl::StrCat("the input of ", name, " as quantized"), used);
    return used;
  };
  checking.query_key = [&hooks, &first](const std::string& name, const torch::Tensor& query,
                                        const torch::Tensor& key) {
    Note(first, absl::StrCat("the query states of ", name), query);
    Note(first, absl::StrCat("the key states of ", name), key);
    return hooks.query_key ? hooks.query_key(name, query, key) : std::make_pair(query, key);
  };
  checking.key_value = [&hooks, &first](const std::string& name, const torch::Tensor& key,
                                        const torch::Tensor& value) {
    Note(first, absl::StrCat("the value states of ", name), value);
    std::pair<torch::Tensor, torch::Tensor> used =
        hooks.key_value ? hooks.key_value(name, key, value) : std::make_pair(key, value);
    Note(first, absl::StrCat("the key states of ", name, " as quantized"), used.first);
    Note(first, absl::StrCat("the value states of ", name, " as quantized"), used.second);
    return used;
  };
  return checking;
}

}  // namespace

absl::Status CheckLayerOutput(model::CausalLm& model, int layer, const model::Weights& weights,
                              const torch::Tensor& input, const torch::Tensor& output,
                              const model::LayerHooks& hooks, const PassDescription& pass) {
  const std::string sample = absl::StrCat(pass.pass, " sample ", pass.sample + 1);
  absl::StatusOr<std::optional<NonFinite>> found = CatchTorchErrors(
      sample, [&]() -> absl::StatusOr<std::optional<NonFinite>> { return FindNonFinite(output); });
  if (!found.ok()) return found.status();
  if (!found->has_value()) return absl::OkStatus();

  std::optional<FirstNonFinite> first;
  Note(first, absl::StrCat("the input of decoder layer ", layer), input);
  if (!first.has_value()) {
    const model::LayerHooks checking = Checking(hooks, first);
    absl::StatusOr<torch::Tensor> rerun = model.DecoderLayerForward(layer, weights, input, checking);
    if (!rerun.ok()) return rerun.status();
  }
  if (!first.has_value()) first = FirstNonFinite{absl::StrCat("the output of decoder layer ", layer), output, **found};
  return absl::DataLossError(absl::StrCat(
      "decoder layer ", layer, ", ", sample, ": ", first->what, " holds ", first->found.Describe(), " (",
      std::string(c10::toString(first->tensor.scalar_type())), "); nothing was written. ",
      ActivationAdvice(first->tensor.scalar_type(), pass.after_quantization)));
}

}  // namespace finite
}  // namespace backend
}  // namespace wring
