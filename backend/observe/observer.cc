#include "backend/observe/observer.h"

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/base/torch_errors.h"
#include "backend/observe/internal/arithmetic.h"
#include "backend/observe/internal/mse_search.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace observe {
namespace {

bool IsMse(ObserverKind kind) { return kind == ObserverKind::kMemorylessMse || kind == ObserverKind::kMse; }

absl::Status BadKwarg(absl::string_view key, absl::string_view text, absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("observer_kwargs.", key, ": \"", text, "\" is not ", expected));
}

absl::Status ParseDouble(absl::string_view key, const std::string& text, double* out) {
  if (!absl::SimpleAtod(text, out)) return BadKwarg(key, text, "a number");
  return absl::OkStatus();
}

}  // namespace

std::string ResolveObserverName(const std::optional<std::string>& observer, ObservedValue value) {
  const bool is_weight = value == ObservedValue::kWeight;
  if (!observer) return is_weight ? "memoryless_minmax" : "minmax";
  if (is_weight && (*observer == "static_minmax" || *observer == "minmax")) return "memoryless_minmax";
  if (is_weight && *observer == "mse") return "memoryless_mse";
  return *observer;
}

absl::StatusOr<ObserverOptions> ParseObserverOptions(absl::string_view name,
                                                     const std::map<std::string, std::string>& kwargs) {
  ObserverOptions options;
  if (name == "memoryless_minmax") {
    options.kind = ObserverKind::kMemorylessMinMax;
  } else if (name == "static_minmax") {
    options.kind = ObserverKind::kStaticMinMax;
  } else if (name == "minmax") {
    options.kind = ObserverKind::kMinMax;
  } else if (name == "memoryless_mse") {
    options.kind = ObserverKind::kMemorylessMse;
  } else if (name == "mse") {
    options.kind = ObserverKind::kMse;
  } else {
    return absl::UnimplementedError(absl::StrCat(
        "observer \"", name,
        "\" is not implemented; use memoryless_minmax, static_minmax, minmax, memoryless_mse or mse"));
  }
  // Upstream ignores kwargs an observer does not read; so does this.
  for (const auto& [key, text] : kwargs) {
    if (key == "averaging_constant" && (options.kind == ObserverKind::kMinMax || options.kind == ObserverKind::kMse)) {
      WRING_RETURN_IF_ERROR(ParseDouble(key, text, &options.averaging_constant));
    } else if (IsMse(options.kind)) {
      if (key == "maxshrink") {
        WRING_RETURN_IF_ERROR(ParseDouble(key, text, &options.maxshrink));
      } else if (key == "grid") {
        WRING_RETURN_IF_ERROR(ParseDouble(key, text, &options.grid));
      } else if (key == "norm") {
        WRING_RETURN_IF_ERROR(ParseDouble(key, text, &options.norm));
      } else if (key == "expand") {
        WRING_RETURN_IF_ERROR(ParseDouble(key, text, &options.expand));
      } else if (key == "patience") {
        if (!absl::SimpleAtoi(text, &options.patience)) return BadKwarg(key, text, "an integer");
      }
    }
  }
  if (IsMse(options.kind)) {
    if (options.expand < 1.0) {
      return absl::InvalidArgumentError(absl::StrCat("expand value must be at least 1.0, got ", options.expand));
    }
    if (options.grid <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("observer_kwargs.grid must be positive, got ", options.grid));
    }
  }
  return options;
}

absl::StatusOr<std::unique_ptr<Observer>> Observer::Create(ObservedValue value,
                                                           const quantize::QuantizationArgs& args,
                                                           const ObserverOptions& options) {
  WRING_RETURN_IF_ERROR(quantize::ValidateArgs(args));
  return std::unique_ptr<Observer>(new Observer(value, args, options));
}

Observer::Sync Observer::sync() const {
  switch (options_.kind) {
    case ObserverKind::kStaticMinMax:
      return Sync::kMinMax;
    case ObserverKind::kMinMax:
    case ObserverKind::kMse:
      return Sync::kAverage;
    case ObserverKind::kMemorylessMinMax:
    case ObserverKind::kMemorylessMse:
      return Sync::kNone;
  }
  return Sync::kNone;
}

std::vector<torch::Tensor> Observer::statistics() const {
  if (!has_statistics()) return {};
  return {min_vals_, max_vals_};
}

absl::Status Observer::Observe(const torch::Tensor& value) {
  if (!value.defined() || !value.is_floating_point()) {
    return absl::InvalidArgumentError("Observer: the observed value must be a floating-point tensor");
  }
  if (value.numel() == 0) return absl::OkStatus();
  if (value_ == ObservedValue::kWeight && has_statistics()) return absl::OkStatus();
  WRING_ASSIGN_OR_RETURN(const torch::Tensor observed, FlattenForCalibration(value, value_, args_));
  return CatchTorchErrors("Observer", [&]() -> absl::Status {
    torch::Tensor min_vals;
    torch::Tensor max_vals;
    if (IsMse(options_.kind)) {
      WRING_ASSIGN_OR_RETURN(quantize::MinMax best, internal::GridSearchMse(observed, args_, options_));
      min_vals = std::move(best.min);
      max_vals = std::move(best.max);
    } else {
      min_vals = torch::amin(observed, {0, -1});
      max_vals = torch::amax(observed, {0, -1});
    }
    if (has_statistics() && min_vals.sizes() != min_vals_.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat("Observer: qparam shape changed between observations, [",
                                                     absl::StrJoin(min_vals_.sizes(), ", "), "] then [",
                                                     absl::StrJoin(min_vals.sizes(), ", "), "]"));
    }
    switch (options_.kind) {
      case ObserverKind::kStaticMinMax:
        if (has_statistics()) {
          min_vals = torch::minimum(min_vals, min_vals_);
          max_vals = torch::maximum(max_vals, max_vals_);
        }
        break;
      case ObserverKind::kMinMax:
      case ObserverKind::kMse:
        if (has_statistics() && options_.averaging_constant != 1.0) {
          min_vals = internal::Lerp(min_vals_, min_vals, options_.averaging_constant);
          max_vals = internal::Lerp(max_vals_, max_vals, options_.averaging_constant);
        }
        break;
      default:
        break;
    }
    min_vals_ = std::move(min_vals);
    max_vals_ = std::move(max_vals);
    return absl::OkStatus();
  });
}

absl::StatusOr<quantize::QParams> Observer::GetQParams() {
  if (!has_statistics()) {
    return absl::FailedPreconditionError("Observer: no statistics available; observe a value first");
  }
  absl::StatusOr<quantize::QParams> qparams = quantize::CalculateQParams(min_vals_, max_vals_, args_);
  min_vals_ = torch::Tensor();
  max_vals_ = torch::Tensor();
  return qparams;
}

absl::StatusOr<quantize::QParams> ComputeWeightQParams(const torch::Tensor& weight,
                                                       const quantize::QuantizationArgs& args,
                                                       const std::optional<std::string>& observer,
                                                       const std::map<std::string, std::string>& observer_kwargs) {
  const std::string name = ResolveObserverName(observer, ObservedValue::kWeight);
  WRING_ASSIGN_OR_RETURN(const ObserverOptions options, ParseObserverOptions(name, observer_kwargs));
  WRING_ASSIGN_OR_RETURN(std::unique_ptr<Observer> weight_observer,
                         Observer::Create(ObservedValue::kWeight, args, options));
  WRING_RETURN_IF_ERROR(weight_observer->Observe(weight));
  return weight_observer->GetQParams();
}

}  // namespace observe
}  // namespace backend
}  // namespace wring
