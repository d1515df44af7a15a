#include "backend/smoothquant/smoothquant.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace smoothquant {
namespace {

// MINIMUM_SMOOTHING_SCALE
constexpr double kMinimumSmoothingScale = 1e-5;

}  // namespace

absl::Status ChannelRange::Observe(const torch::Tensor& output) {
  return CatchTorchErrors("SmoothQuant activation range", [&]() -> absl::Status {
    if (output.dim() == 0 || output.numel() == 0) {
      return absl::InvalidArgumentError("SmoothQuant: an empty smooth-layer output");
    }
    const torch::Tensor flat = output.reshape({-1, output.size(-1)});
    if (min_.defined() && min_.size(0) != flat.size(1)) {
      return absl::InvalidArgumentError(absl::StrCat("SmoothQuant: smooth-layer outputs of widths ",
                                                     min_.size(0), " and ", flat.size(1)));
    }
    const torch::Tensor lo = std::get<0>(flat.min(0));
    const torch::Tensor hi = std::get<0>(flat.max(0));
    min_ = min_.defined() ? torch::minimum(min_, lo) : lo;
    max_ = max_.defined() ? torch::maximum(max_, hi) : hi;
    return absl::OkStatus();
  });
}

absl::Status ChannelRange::CombineOverRanks(distributed::Collectives& collectives,
                                           absl::string_view what) {
  if (!collectives.is_distributed()) return absl::OkStatus();
  return CatchTorchErrors("SmoothQuant activation range over the workers", [&]() -> absl::Status {
    // Agree on the width first: a rank that saw nothing has none.
    torch::Tensor width = torch::tensor({empty() ? int64_t{0} : min_.size(0)}, torch::kInt64);
    WRING_RETURN_IF_ERROR(collectives.AllReduce({width}, distributed::ReduceOp::kMax, what));
    const int64_t channels = width.item<int64_t>();
    if (channels == 0) return absl::OkStatus();
    if (!empty() && min_.size(0) != channels) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": smooth-layer outputs of different widths on different ranks"));
    }
    // float32 holds every bf16 / fp16 value exactly, so MIN / MAX in it
    // changes nothing; a rank without a range sends the identities.
    torch::Tensor lo = empty() ? torch::full({channels}, INFINITY, torch::kFloat32) : min_.to(torch::kFloat32);
    torch::Tensor hi = empty() ? torch::full({channels}, -INFINITY, torch::kFloat32) : max_.to(torch::kFloat32);
    WRING_RETURN_IF_ERROR(collectives.AllReduce({lo}, distributed::ReduceOp::kMin, what));
    WRING_RETURN_IF_ERROR(collectives.AllReduce({hi}, distributed::ReduceOp::kMax, what));
    if (empty()) {
      // Every worker has samples and each passes every smooth layer.
      return absl::InternalError(absl::StrCat(what, ": this worker observed no smooth-layer output"));
    }
    min_ = lo.to(min_.dtype());
    max_ = hi.to(max_.dtype());
    return absl::OkStatus();
  });
}

absl::StatusOr<torch::Tensor> SmoothingScales(const ChannelRange& range,
                                              const std::vector<torch::Tensor>& balance_weights,
                                              double smoothing_strength, Algorithm algorithm) {
  if (range.empty()) return absl::FailedPreconditionError("SmoothQuant: no calibration output observed");
  if (balance_weights.empty()) return absl::InvalidArgumentError("SmoothQuant: no balance layers");
  const int64_t channels = range.min().size(0);
  for (const torch::Tensor& w : balance_weights) {
    if (w.dim() != 2 || w.size(1) != channels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SmoothQuant: a balance weight of shape [", w.size(0), ", ", w.dim() == 2 ? w.size(1) : 0,
          "] does not read the smooth layer's ", channels, " channels"));
    }
  }
  return CatchTorchErrors("SmoothQuant scales", [&]() -> absl::StatusOr<torch::Tensor> {
    const torch::Tensor activation = range.max() - range.min();
    torch::Tensor scales;
    if (algorithm == Algorithm::kLogEqualization) {
      scales = activation / torch::log2(activation + 2);
    } else {
      std::vector<torch::Tensor> per_layer;
      for (const torch::Tensor& w : balance_weights) {
        per_layer.push_back(std::get<0>(w.to(activation.device()).abs().max(0, /*keepdim=*/true)));
      }
      const torch::Tensor weight = std::get<0>(torch::cat(per_layer, 0).max(0)) * 2.0;
      scales = activation.pow(smoothing_strength) / weight.pow(1 - smoothing_strength);
      scales = torch::where(weight > 0.0, scales, activation);
    }
    // Upstream's floor is a float32 tensor, which promotes the scales.
    return torch::maximum(scales, torch::full({1}, kMinimumSmoothingScale,
                                              scales.options().dtype(torch::kFloat)));
  });
}

absl::Status ApplySmoothing(const torch::Tensor& scales, torch::Tensor& smooth_weight,
                            torch::Tensor& smooth_bias, std::vector<torch::Tensor>& balance_weights) {
  return CatchTorchErrors("SmoothQuant smoothing", [&]() -> absl::Status {
    const int64_t channels = scales.size(0);
    if (smooth_weight.size(0) != channels) {
      return absl::InvalidArgumentError(absl::StrCat("SmoothQuant: a smooth layer of ",
                                                     smooth_weight.size(0), " outputs for ",
                                                     channels, " scales"));
    }
    for (torch::Tensor& w : balance_weights) {
      w.copy_(w * scales.to(w.device()).view({1, -1}));
    }
    const torch::Tensor s = scales.to(smooth_weight.device());
    smooth_weight.copy_(smooth_weight.dim() == 1 ? smooth_weight / s : smooth_weight / s.view({-1, 1}));
    if (smooth_bias.defined()) smooth_bias.copy_(smooth_bias / s);
    return absl::OkStatus();
  });
}

}  // namespace smoothquant
}  // namespace backend
}  // namespace wring
