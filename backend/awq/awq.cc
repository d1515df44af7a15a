#include "backend/awq/awq.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/awq/apply_scales.h"
#include "backend/awq/candidate_weight.h"
#include "backend/awq/factored_gram_loss.h"
#include "backend/base/torch_errors.h"
#include "backend/interrupt/interrupt.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace awq {
namespace {

using quantize::QuantizationStrategy;

absl::StatusOr<torch::Tensor> WeightOf(const model::Weights& weights, const std::string& module) {
  auto it = weights.find(module + ".weight");
  if (it == weights.end()) {
    return absl::NotFoundError(absl::StrCat("AWQ: the layer has no weight for module '", module, "'"));
  }
  return it->second;
}

// Rows of |W| chunked as the scheme quantizes them, and how to undo it.
absl::StatusOr<torch::Tensor> NormalizedMagnitudes(const torch::Tensor& weight,
                                                   const quantize::QuantizationArgs& args,
                                                   const std::string& name) {
  torch::Tensor w = weight.clone();
  const int64_t rows = w.size(0), cols = w.size(1);
  switch (args.strategy) {
    case QuantizationStrategy::kTensor:
      w = w.reshape({1, -1});
      break;
    case QuantizationStrategy::kChannel:
      w = w.reshape({-1, cols});
      break;
    case QuantizationStrategy::kGroup:
      if (args.group_size <= 0 || cols % args.group_size != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "AWQ: balance layer ", name, " has ", cols, " input columns, not a multiple of ",
            "weights.group_size ", args.group_size));
      }
      w = w.reshape({-1, args.group_size});
      break;
    case QuantizationStrategy::kBlock: {
      const int64_t bh = args.block_rows, bw = args.block_cols;
      if (bh <= 0 || bw <= 0 || rows % bh != 0 || cols % bw != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "AWQ: balance layer ", name, " (", rows, " x ", cols,
            ") is not a whole number of weights.block_structure blocks; upstream's "
            "_compute_layer_means cannot reshape it (use duo_scaling: false)"));
      }
      w = w.reshape({rows / bh, bh, cols / bw, bw}).permute({0, 2, 1, 3}).reshape({-1, bh * bw});
      w = w.abs();
      w = w / (w.amax({1}, true) + 1e-6);
      return w.reshape({rows / bh, cols / bw, bh, bw}).permute({0, 2, 1, 3}).reshape({rows, cols});
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("AWQ: balance layer ", name, ": weight strategy not usable by AWQ"));
  }
  w = w.abs();
  w = w / (w.amax({1}, true) + 1e-6);
  return w.reshape({rows, cols});
}

// F.mse_loss(a, b, reduction="sum") as PyTorch 2.x computes it on the CPU
// (LibTorch 1.13 has no bf16 kernel): (a - b) and its square each rounded
// to the dtype, summed with a float32 accumulator (bf16 / fp16) and rounded
// to the dtype once.
torch::Tensor MseLossSum(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor d = a - b;
  const torch::Tensor squared = d * d;
  const bool reduced = squared.scalar_type() == torch::kBFloat16 || squared.scalar_type() == torch::kHalf;
  if (!reduced) return squared.sum();
  return squared.to(torch::kFloat32).sum().to(squared.scalar_type());
}

// Upstream's loss: per batch the mse_loss sum (model dtype), accumulated in
// float32, divided by the element count; returned as Python's float. Data-
// parallel workers sum the float32 partial sums and the counts over the
// ranks first (upstream's _allreduce_data_sum).
absl::StatusOr<double> Loss(const std::vector<torch::Tensor>& reference,
                            const std::vector<torch::Tensor>& output,
                            distributed::Collectives* collectives, const std::string& mapping) {
  torch::Tensor total = torch::zeros({1}, torch::kFloat32);
  int64_t elements = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    total += MseLossSum(reference[i], output[i]).cpu();
    elements += reference[i].numel();
  }
  torch::Tensor count = torch::tensor({elements}, torch::kInt64);
  if (collectives != nullptr && collectives->is_distributed()) {
    WRING_RETURN_IF_ERROR(collectives->AllReduce(
        {total, count}, distributed::ReduceOp::kSum,
        absl::StrCat("the AWQ grid-search loss of ", mapping)));
  }
  return (total[0] / count[0]).item<double>();
}

// Which consecutive cached inputs RunParent stacks into one forward: a
// parent that runs on tokens gets them as [rows, features] (StackableRuns);
// any other parent one at a time.
std::vector<std::pair<size_t, size_t>> StackedRanges(const LayerMapping& mapping,
                                                     const std::vector<torch::Tensor>& inputs) {
  if (mapping.parent_runs_on_tokens) return model::StackableRuns(inputs);
  std::vector<std::pair<size_t, size_t>> one_each;
  for (size_t i = 0; i < inputs.size(); ++i) one_each.emplace_back(i, i + 1);
  return one_each;
}

// The parent's output for each cached input, stacked as StackedRanges says
// and split back.
absl::StatusOr<std::vector<torch::Tensor>> RunParent(const LayerMapping& mapping,
                                                     const std::vector<torch::Tensor>& inputs,
                                                     const ParentForward& forward,
                                                     const model::Weights& weights,
                                                     const LinearWeightSource& candidate) {
  std::vector<torch::Tensor> outputs;
  outputs.reserve(inputs.size());
  for (const auto& [begin, end] : StackedRanges(mapping, inputs)) {
    WRING_RETURN_IF_ERROR(interrupt::CheckNotInterrupted());
    if (end == begin + 1) {
      WRING_ASSIGN_OR_RETURN(torch::Tensor out, forward(mapping.parent, weights, inputs[begin], candidate));
      outputs.push_back(std::move(out));
      continue;
    }
    const std::vector<torch::Tensor> samples(inputs.begin() + begin, inputs.begin() + end);
    WRING_ASSIGN_OR_RETURN(const torch::Tensor stacked,
                           forward(mapping.parent, weights, model::StackRows(samples), candidate));
    for (torch::Tensor& piece : model::SplitRows(stacked, samples)) outputs.push_back(std::move(piece));
  }
  return outputs;
}

// The smooth layer divided by `scales`: a norm's weight, or a Linear's last
// scales.size(0) output rows and its bias.
absl::Status ApplyToSmoothLayer(const std::string& smooth, const torch::Tensor& scales,
                                model::Weights& weights) {
  WRING_ASSIGN_OR_RETURN(torch::Tensor weight, WeightOf(weights, smooth));
  const torch::Tensor s = scales.to(weight.device());
  if (weight.dim() == 1) {
    if (weight.size(0) != s.size(0)) {
      return absl::InvalidArgumentError(absl::StrCat("AWQ: smooth layer ", smooth, " has ",
                                                     weight.size(0), " channels, the scales ",
                                                     s.size(0)));
    }
    weights[smooth + ".weight"] = (weight.to(s.scalar_type()) / s).to(weight.scalar_type());
  } else {
    const int64_t rows = weight.size(0), n = s.size(0);
    if (n > rows) {
      return absl::InvalidArgumentError(absl::StrCat("AWQ: smooth layer ", smooth, " has ", rows,
                                                     " output features, fewer than the ", n,
                                                     " balance input features"));
    }
    const torch::Tensor tail = DivideRows(weight.slice(0, rows - n, rows), s);
    weights[smooth + ".weight"] = torch::cat({weight.slice(0, 0, rows - n), tail}, 0);
  }
  auto bias = weights.find(smooth + ".bias");
  if (bias != weights.end()) {
    if (bias->second.size(0) != s.size(0)) {
      return absl::UnimplementedError(absl::StrCat(
          "AWQ: smooth layer ", smooth, " has a bias of ", bias->second.size(0),
          " entries for ", s.size(0), " scales (a fused projection); not supported"));
    }
    bias->second = (bias->second.to(s.scalar_type()) / s).to(bias->second.scalar_type());
  }
  return absl::OkStatus();
}

// Upstream's crash cases, caught before any work.
absl::Status ValidateMapping(const LayerMapping& mapping, const AwqOptions& options) {
  for (const BalanceLayer& b : mapping.balance) {
    if (b.has_scheme && !b.weight_args.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          options.where, ": balance layer ", b.name,
          " has a quantization scheme without `weights`; llm-compressor builds its grid-search "
          "weight observer from those and fails. Quantize its weights too, or remove it from the "
          "mapping's balance_layers"));
    }
    if (options.duo_scaling != DuoScaling::kFalse && b.weight_args.has_value() &&
        b.weight_args->strategy == QuantizationStrategy::kTensor) {
      return absl::InvalidArgumentError(absl::StrCat(
          options.where,
          ".duo_scaling: duo_scaling is only supported with per-channel quantization strategies "
          "(group or channel), but found TENSOR strategy on layer ",
          b.name, "; set duo_scaling: false or use a per-channel strategy"));
    }
  }
  return absl::OkStatus();
}

// The loss of one grid candidate, whose balance weights `candidate` gives.
// `scales` are the grid point's, for a loss that makes the candidates itself
// (FactoredGramLoss on CandidateRows).
using CandidateLoss =
    std::function<absl::StatusOr<double>(const LinearWeightSource& candidate, const torch::Tensor& scales)>;

// How the candidates reach the loss.
struct CandidatePolicy {
  // In the weight's dtype, as float32 values (model::LinearComputesInFloat32)
  // or as the float32 difference to the original weight (the Gram loss).
  CandidateForm form = CandidateForm::kWeightDtype;
  // Kept for the grid point once made, for a loss that asks for a weight
  // more than once (a parent run over several stacks of samples); otherwise
  // each is made when asked and dropped after use, so that an MoE layer's
  // hundreds of candidates never exist at once.
  bool keep = false;
};

// The grid search proper, shared by both ways of scoring a candidate: each
// grid point's scales, the balance layers fake-quantized through them, the
// first strictly smallest loss; then the best scales applied to `weights`.
absl::Status SearchAndApply(const LayerMapping& mapping, const AwqOptions& options,
                            const ActivationStats& stats, const torch::Device& device,
                            const CandidatePolicy& policy, const CandidateLoss& candidate_loss,
                            model::Weights& weights, MappingResult& result) {
  WRING_ASSIGN_OR_RETURN(const std::vector<GridPoint> grid, GridSearchParams(options));
  std::map<std::string, torch::Tensor> original;
  std::map<std::string, const BalanceLayer*> quantized;
  for (const BalanceLayer& b : mapping.balance) {
    WRING_ASSIGN_OR_RETURN(original[b.name], WeightOf(weights, b.name));
    if (b.has_scheme) quantized[b.name] = &b;
  }
  WRING_ASSIGN_OR_RETURN(torch::Tensor x_mean, stats.Mean());
  x_mean = x_mean.to(device);
  torch::Tensor w_mean;
  if (options.duo_scaling != DuoScaling::kFalse) {
    WRING_ASSIGN_OR_RETURN(w_mean, BalanceWeightMean(mapping, weights, options.where));
    w_mean = w_mean.to(device);
  }

  double best_error = std::numeric_limits<double>::infinity();
  bool found = false;
  for (const GridPoint& point : grid) {
    WRING_RETURN_IF_ERROR(interrupt::CheckNotInterrupted());
    const torch::Tensor scales = GridScales(x_mean, w_mean, point);
    std::map<std::string, torch::Tensor> kept;
    const LinearWeightSource candidate = [&](const std::string& linear) -> absl::StatusOr<torch::Tensor> {
      auto b = quantized.find(linear);
      if (b == quantized.end()) return torch::Tensor();  // not balanced, or no weight scheme
      if (auto it = kept.find(linear); it != kept.end()) return it->second;
      WRING_ASSIGN_OR_RETURN(torch::Tensor weight, CandidateWeight(original.at(linear), scales,
                                                                   *b->second->weight_args, policy.form));
      if (policy.keep) kept.emplace(linear, weight);
      return weight;
    };
    WRING_ASSIGN_OR_RETURN(const double loss, candidate_loss(candidate, scales));
    if (result.losses.empty()) result.initial_error = loss;
    result.losses.push_back(loss);
    if (loss < best_error) {
      best_error = loss;
      result.best = point;
      result.scales = scales.clone();
      found = true;
    }
  }
  if (!found) {
    return absl::InternalError(absl::StrCat(
        "AWQ: no finite loss in the grid search for ", mapping.smooth,
        " (NaN in the forward pass of ", mapping.parent, "); llm-compressor raises here too"));
  }
  result.best_error = best_error;

  for (const BalanceLayer& b : mapping.balance) {
    const torch::Tensor& w = original.at(b.name);
    weights[b.name + ".weight"] = MultiplyColumns(w, result.scales.to(w.device()));
  }
  WRING_RETURN_IF_ERROR(ApplyToSmoothLayer(mapping.smooth, result.scales, weights));
  result.scales = result.scales.cpu();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AwqOptions> OptionsFromRecipe(const recipe::AwqModifier& modifier,
                                             const std::string& where) {
  AwqOptions options;
  options.where = where;
  if (modifier.has_duo_scaling()) {
    const std::string& duo = modifier.duo_scaling();
    if (duo == "true") {
      options.duo_scaling = DuoScaling::kTrue;
    } else if (duo == "false") {
      options.duo_scaling = DuoScaling::kFalse;
    } else if (duo == "both") {
      options.duo_scaling = DuoScaling::kBoth;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".duo_scaling: '", duo, "' is not true, false or \"both\""));
    }
  }
  if (modifier.has_n_grid()) options.n_grid = modifier.n_grid();
  WRING_RETURN_IF_ERROR(GridSearchParams(options).status());
  return options;
}

absl::StatusOr<std::vector<GridPoint>> GridSearchParams(const AwqOptions& options) {
  const int n = options.n_grid;
  std::vector<GridPoint> grid;
  auto division_by_zero = [&](const char* duo) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.where, ".n_grid: ", n, " with duo_scaling ", duo,
        " makes llm-compressor divide by zero building the grid (ZeroDivisionError); use "
        "n_grid >= ", std::string(duo) == "both" ? 4 : 3, " (default 20)"));
  };
  switch (options.duo_scaling) {
    case DuoScaling::kFalse:
      if (n == 1) return division_by_zero("false");
      for (int i = 0; i < n; ++i) grid.push_back({static_cast<double>(i) / (n - 1), false});
      break;
    case DuoScaling::kTrue:
      if (n == 2) return division_by_zero("true");
      grid.push_back({0.0, false});
      for (int i = 0; i < n - 1; ++i) grid.push_back({static_cast<double>(i) / (n - 2), true});
      break;
    case DuoScaling::kBoth: {
      const int half = n / 2;  // Python's int(n / 2) truncates toward zero too
      if (half == 1) return division_by_zero("both");
      for (int i = 0; i < half; ++i) {
        const double ratio = static_cast<double>(i) / (half - 1);
        grid.push_back({ratio, false});
        grid.push_back({ratio, true});
      }
      break;
    }
  }
  if (grid.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.where, ".n_grid: ", n,
        " leaves the grid search without a single point, so llm-compressor raises \"No finite "
        "loss was found\"; use a positive n_grid (default 20)"));
  }
  return grid;
}

absl::Status ActivationStats::Add(const torch::Tensor& input) {
  return CatchTorchErrors("AWQ activation statistics", [&]() -> absl::Status {
    const torch::Tensor rows = input.abs().reshape({-1, input.size(-1)});
    const torch::Tensor sum = rows.to(torch::kFloat32).sum(0).cpu();
    if (sum_.defined() && sum_.size(0) != sum.size(0)) {
      return absl::InvalidArgumentError("AWQ: activation statistics of different widths");
    }
    sum_ = sum_.defined() ? sum_ + sum : torch::zeros_like(sum) + sum;
    count_ += rows.size(0);
    return absl::OkStatus();
  });
}

absl::Status ActivationStats::SumOverRanks(distributed::Collectives& collectives,
                                           absl::string_view what) {
  if (!collectives.is_distributed()) return absl::OkStatus();
  // A rank whose hook never fired has no sum yet: agree on the width first.
  torch::Tensor width = torch::tensor({sum_.defined() ? sum_.size(0) : int64_t{0}}, torch::kInt64);
  WRING_RETURN_IF_ERROR(collectives.AllReduce({width}, distributed::ReduceOp::kMax, what));
  const int64_t channels = width.item<int64_t>();
  if (channels == 0) return absl::OkStatus();
  if (!sum_.defined()) sum_ = torch::zeros({channels}, torch::kFloat32);
  if (sum_.size(0) != channels) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": activation statistics of different widths on different ranks"));
  }
  torch::Tensor count = torch::tensor({count_}, torch::kInt64);
  WRING_RETURN_IF_ERROR(collectives.AllReduce({sum_, count}, distributed::ReduceOp::kSum, what));
  count_ = count.item<int64_t>();
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> ActivationStats::Mean() const {
  if (count_ == 0) return absl::FailedPreconditionError("AWQ: no activations were observed");
  return CatchTorchErrors("AWQ activation mean", [&]() -> absl::StatusOr<torch::Tensor> {
    return sum_ / torch::scalar_tensor(count_, torch::kInt64);
  });
}

absl::StatusOr<torch::Tensor> BalanceWeightMean(const LayerMapping& mapping,
                                                const model::Weights& weights,
                                                const std::string& where) {
  return CatchTorchErrors("AWQ weight statistics", [&]() -> absl::StatusOr<torch::Tensor> {
    torch::Tensor total;
    int64_t rows = 0;
    for (const BalanceLayer& b : mapping.balance) {
      if (!b.has_scheme || !b.weight_args.has_value()) continue;  // upstream: warning, skipped
      WRING_ASSIGN_OR_RETURN(torch::Tensor weight, WeightOf(weights, b.name));
      WRING_ASSIGN_OR_RETURN(torch::Tensor normalized,
                             NormalizedMagnitudes(weight, *b.weight_args, b.name));
      rows += normalized.size(0);
      const torch::Tensor sum = normalized.sum(0, false, torch::kFloat64);
      total = total.defined() ? total + sum : sum;
    }
    if (rows == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".duo_scaling: no balance layer of the mapping with smooth layer '",
          mapping.smooth,
          "' has a weight quantization scheme, so llm-compressor's weight mean divides by zero "
          "(ZeroDivisionError); set duo_scaling: false, or quantize a balance layer's weights"));
    }
    return total / static_cast<double>(rows);
  });
}

torch::Tensor GridScales(const torch::Tensor& x_mean, const torch::Tensor& w_mean,
                         const GridPoint& point) {
  torch::Tensor scales;
  if (point.duo_scaling) {
    scales = (x_mean.pow(point.ratio) / (w_mean.pow(1 - point.ratio) + 1e-4)).clamp_min(1e-4);
  } else {
    scales = x_mean.pow(point.ratio).clamp_min(1e-4).view({-1});
  }
  scales = scales / (scales.max() * scales.min()).sqrt();
  scales.masked_fill_(torch::isinf(scales), 1);
  scales.masked_fill_(torch::isnan(scales), 1);
  return scales;
}

bool HasLinearParentShortcut(const LayerMapping& mapping) {
  return mapping.balance.size() == 1 && mapping.balance.front().name == mapping.parent;
}

absl::StatusOr<MappingResult> SmoothMapping(const LayerMapping& mapping, const AwqOptions& options,
                                            const ActivationStats& stats,
                                            const std::vector<torch::Tensor>& parent_inputs,
                                            const ParentForward& parent_forward,
                                            model::Weights& weights,
                                            distributed::Collectives* collectives) {
  WRING_RETURN_IF_ERROR(ValidateMapping(mapping, options));
  return CatchTorchErrors(
      absl::StrCat("AWQ smoothing ", mapping.smooth), [&]() -> absl::StatusOr<MappingResult> {
        MappingResult result;
        result.smooth = mapping.smooth;
        result.parent = mapping.parent;
        WRING_ASSIGN_OR_RETURN(const std::vector<torch::Tensor> reference,
                               RunParent(mapping, parent_inputs, parent_forward, weights, nullptr));
        int64_t elements = 0, non_finite = 0;
        for (const torch::Tensor& r : reference) {
          elements += r.numel();
          non_finite += torch::isfinite(r).all().item<bool>() ? 0 : 1;
        }
        if (collectives != nullptr && collectives->is_distributed()) {
          torch::Tensor checks = torch::tensor({elements, non_finite}, torch::kInt64);
          WRING_RETURN_IF_ERROR(collectives->AllReduce(
              {checks}, distributed::ReduceOp::kSum,
              absl::StrCat("the AWQ parent outputs of ", mapping.smooth)));
          elements = checks[0].item<int64_t>();
          non_finite = checks[1].item<int64_t>();
        }
        const bool any_elements = elements > 0, finite = non_finite == 0;
        if (!any_elements) {
          result.skipped = "no activations reached the parent module";
          return result;
        }
        if (!finite) {
          result.skipped = absl::StrCat("NaN or inf outputs of the parent module ", mapping.parent);
          return result;
        }
        const CandidateLoss loss = [&](const LinearWeightSource& candidate,
                                       const torch::Tensor& /*scales*/) -> absl::StatusOr<double> {
          WRING_ASSIGN_OR_RETURN(const std::vector<torch::Tensor> output,
                                 RunParent(mapping, parent_inputs, parent_forward, weights, candidate));
          return Loss(reference, output, collectives, mapping.smooth);
        };
        CandidatePolicy policy;
        if (!mapping.balance.empty()) {
          WRING_ASSIGN_OR_RETURN(const torch::Tensor first, WeightOf(weights, mapping.balance.front().name));
          if (model::LinearComputesInFloat32(first)) policy.form = CandidateForm::kFloat32;
        }
        policy.keep = StackedRanges(mapping, parent_inputs).size() > 1;
        WRING_RETURN_IF_ERROR(SearchAndApply(mapping, options, stats, reference.front().device(),
                                             policy, loss, weights, result));
        return result;
      });
}

absl::StatusOr<MappingResult> SmoothLinearParentMapping(const LayerMapping& mapping,
                                                        const AwqOptions& options,
                                                        const ActivationStats& stats,
                                                        const LinearGram& gram,
                                                        model::Weights& weights) {
  if (!HasLinearParentShortcut(mapping)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AWQ: the Gram-matrix loss needs a Linear parent that is the mapping's only balance "
        "layer; ", mapping.smooth, "'s parent is ", mapping.parent));
  }
  WRING_RETURN_IF_ERROR(ValidateMapping(mapping, options));
  return CatchTorchErrors(
      absl::StrCat("AWQ smoothing ", mapping.smooth), [&]() -> absl::StatusOr<MappingResult> {
        MappingResult result;
        result.smooth = mapping.smooth;
        result.parent = mapping.parent;
        if (gram.rows() == 0 || gram.width() == 0) {
          result.skipped = "no activations reached the parent module";
          return result;
        }
        if (!gram.finite()) {
          result.skipped = absl::StrCat("NaN or inf outputs of the parent module ", mapping.parent);
          return result;
        }
        WRING_ASSIGN_OR_RETURN(const torch::Tensor current, WeightOf(weights, mapping.parent));
        // On AMX tiles for a bf16 parent (the candidates as they come),
        // else from the float32 difference.
        WRING_ASSIGN_OR_RETURN(const std::optional<FactoredGramLoss> factored,
                               FactoredGramLoss::Make(gram, current));
        const BalanceLayer& parent = mapping.balance.front();
        const CandidateLoss loss = [&](const LinearWeightSource& candidate,
                                       const torch::Tensor& scales) -> absl::StatusOr<double> {
          // On the tiles, the candidate's rows as the product takes them.
          if (factored.has_value() && parent.has_scheme) {
            WRING_ASSIGN_OR_RETURN(const std::optional<CandidateRows> rows,
                                   CandidateRows::Make(current, scales, *parent.weight_args));
            if (rows.has_value()) return factored->MeanSquaredOutput(*rows);
          }
          WRING_ASSIGN_OR_RETURN(const torch::Tensor weight, candidate(mapping.parent));
          // No weight scheme: the candidate is the weight itself.
          if (!weight.defined()) return gram.MeanSquaredOutputDifference(current, current);
          if (factored.has_value()) return factored->MeanSquaredOutput(weight);
          return gram.MeanSquaredOutput(weight);
        };
        CandidatePolicy policy;
        policy.form = factored.has_value() ? CandidateForm::kWeightDtype : CandidateForm::kFloat32Difference;
        WRING_RETURN_IF_ERROR(
            SearchAndApply(mapping, options, stats, current.device(), policy, loss, weights, result));
        return result;
      });
}

}  // namespace awq
}  // namespace backend
}  // namespace wring
