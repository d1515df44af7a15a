#include "backend/gptq/quantize_modules.h"

#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "backend/base/torch_errors.h"
#include "backend/compat/torch_compat.h"
#include "backend/interrupt/interrupt.h"
#include "mapping/base/python_repr.h"

namespace wring {
namespace backend {
namespace gptq {
namespace {

constexpr int64_t kMinBatchedCholeskySize = 16;

std::string BatchKey(const GptqModule& m) {
  return absl::StrCat(m.weight.size(0), "x", m.weight.size(1), "|",
                      c10::toString(m.weight.scalar_type()), "|", m.weight.device().str(), "|",
                      m.args_key);
}

// max_batch_size for "auto": 75% of the free device memory over the larger
// of upstream's two per-module peaks (float32 elements).
int64_t AutoBatchLimit(const GptqModule& m, int64_t block_size) {
  std::optional<int64_t> free_bytes = compat::FreeDeviceMemoryBytes(m.weight.device());
  if (!free_bytes.has_value()) return 1;
  const int64_t out = m.weight.size(0), in = m.weight.size(1);
  const int64_t weight = out * in, hessian = in * in, block = out * block_size;
  const int64_t quantization_peak = hessian + 3 * weight + 4 * block;
  const int64_t actorder_peak = 3 * hessian + 2 * weight;
  const int64_t per_module = std::max(quantization_peak, actorder_peak) * 4;
  return std::max<int64_t>(1, static_cast<int64_t>(*free_bytes * 0.75) / per_module);
}

// One Hessian group's factorization (a batch of 1), kept while batches
// still to come need it.
struct CachedFactorization {
  Factorization f;
  int remaining_uses = 0;
};

Factorization Slice(const Factorization& f, int64_t i) {
  Factorization out;
  if (f.perm.defined()) out.perm = f.perm.slice(0, i, i + 1);
  out.dead = f.dead.slice(0, i, i + 1);
  out.factor = f.factor.slice(0, i, i + 1);
  out.diagonal = f.diagonal.slice(0, i, i + 1);
  out.inverse = f.inverse;
  out.rtn_fallback = {f.rtn_fallback[i]};
  return out;
}

Factorization Concatenate(const std::vector<const Factorization*>& parts) {
  Factorization out;
  std::vector<torch::Tensor> perm, dead, factor, diagonal;
  for (const Factorization* p : parts) {
    if (p->perm.defined()) perm.push_back(p->perm);
    dead.push_back(p->dead);
    factor.push_back(p->factor);
    diagonal.push_back(p->diagonal);
    out.rtn_fallback.push_back(p->rtn_fallback[0]);
  }
  if (!perm.empty()) out.perm = torch::cat(perm);
  out.dead = torch::cat(dead);
  out.factor = torch::cat(factor);
  out.diagonal = torch::cat(diagonal);
  out.inverse = parts.front()->inverse;
  return out;
}

}  // namespace

std::vector<std::vector<int>> AssignBatches(const std::vector<GptqModule>& modules,
                                            const BatchedQuantization& batching,
                                            int64_t block_size) {
  std::vector<std::vector<int>> batches;
  if (batching.mode == BatchedQuantization::Mode::kNone) {
    for (int i = 0; i < static_cast<int>(modules.size()); ++i) batches.push_back({i});
    return batches;
  }
  std::vector<std::string> order;
  std::map<std::string, std::vector<int>> pending;
  for (int i = 0; i < static_cast<int>(modules.size()); ++i) {
    const std::string key = BatchKey(modules[i]);
    if (pending.count(key) == 0) order.push_back(key);
    pending[key].push_back(i);
  }
  for (const std::string& key : order) {
    const std::vector<int>& members = pending[key];
    const int64_t limit = batching.mode == BatchedQuantization::Mode::kLimit
                              ? batching.limit
                              : AutoBatchLimit(modules[members[0]], block_size);
    for (size_t start = 0; start < members.size(); start += limit) {
      const size_t end = std::min(members.size(), start + static_cast<size_t>(limit));
      batches.emplace_back(members.begin() + start, members.begin() + end);
    }
  }
  return batches;
}

absl::StatusOr<std::vector<QuantizedModule>> QuantizeModules(
    const std::vector<GptqModule>& modules, const LayerHessians& hessians,
    const GptqOptions& options, const BatchedQuantization& batching,
    std::vector<std::string>* log) {
  if (batching.mode == BatchedQuantization::Mode::kLimit && batching.limit <= 0) {
    return absl::InvalidArgumentError("batched_quantization must be a positive integer");
  }
  for (const GptqModule& m : modules) {
    if (!hessians.Contains(m.name)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "GPTQ: ", m.name, " saw no calibration input (llm-compressor raises \"Failed to compress\")"));
    }
  }
  const std::vector<std::vector<int>> batches = AssignBatches(modules, batching, options.block_size);

  // (Hessian group, batched path) -> how many batches will use it.
  using CacheKey = std::pair<int, bool>;
  std::map<CacheKey, CachedFactorization> cache;
  for (const std::vector<int>& batch : batches) {
    const bool batched = static_cast<int64_t>(batch.size()) >= kMinBatchedCholeskySize;
    std::map<int, bool> seen;
    for (int i : batch) {
      const int group = hessians.GroupOf(modules[i].name);
      if (!seen[group]) ++cache[{group, batched}].remaining_uses;
      seen[group] = true;
    }
  }

  std::vector<QuantizedModule> results(modules.size());
  for (const std::vector<int>& batch : batches) {
    // A large layer's solves take minutes on a CPU: a stop request is
    // honoured between batches.
    if (absl::Status stop = interrupt::CheckNotInterrupted(); !stop.ok()) return stop;
    const int64_t size = static_cast<int64_t>(batch.size());
    const bool batched = size >= kMinBatchedCholeskySize;
    std::vector<std::string> names;
    for (int i : batch) names.push_back(modules[i].name);
    if (log != nullptr) {
      log->push_back(absl::StrCat("Quantizing ", size, " module(s): ",
                                  mapping::PythonListRepr(names)));
    }
    absl::StatusOr<GptqResult> result = CatchTorchErrors("GPTQ", [&]() -> absl::StatusOr<GptqResult> {
      // Factorize the Hessian groups this batch is the first to need.
      std::vector<int> missing;
      for (int i : batch) {
        const int group = hessians.GroupOf(modules[i].name);
        CachedFactorization& entry = cache[{group, batched}];
        if (!entry.f.factor.defined() &&
            std::find(missing.begin(), missing.end(), group) == missing.end()) {
          missing.push_back(group);
        }
      }
      if (!missing.empty()) {
        std::vector<torch::Tensor> stacked;
        std::map<int, int> first_member;
        for (int i : batch) first_member.emplace(hessians.GroupOf(modules[i].name), i);
        for (int group : missing) {
          absl::StatusOr<torch::Tensor> h = hessians.Normalized(modules[first_member[group]].name);
          if (!h.ok()) return h.status();
          stacked.push_back(*h);
        }
        torch::Tensor together = (stacked.size() == 1 ? stacked[0].unsqueeze(0) : torch::stack(stacked))
                                     .to(modules[batch[0]].weight.device());
        stacked.clear();  // the factorization then holds the only reference
        absl::StatusOr<Factorization> f = FactorizeHessians(std::move(together), options, size);
        if (!f.ok()) return f.status();
        for (size_t j = 0; j < missing.size(); ++j) cache[{missing[j], batched}].f = Slice(*f, j);
      }
      std::vector<const Factorization*> parts;
      bool one_group = true;
      for (int i : batch) {
        parts.push_back(&cache[{hessians.GroupOf(modules[i].name), batched}].f);
        one_group = one_group && parts.back() == parts.front();
      }
      const Factorization factorization = one_group ? parts[0]->Expand(size) : Concatenate(parts);

      std::vector<torch::Tensor> weights, scales, zero_points;
      for (int i : batch) {
        weights.push_back(modules[i].weight);
        scales.push_back(modules[i].qparams.scale);
        if (modules[i].qparams.zero_point.defined()) zero_points.push_back(modules[i].qparams.zero_point);
      }
      quantize::QParams qparams{torch::stack(scales),
                                zero_points.size() == batch.size() ? torch::stack(zero_points)
                                                                   : torch::Tensor()};
      return QuantizeWeights(torch::stack(weights), factorization, qparams, modules[batch[0]].args,
                             options);
    });
    if (!result.ok()) {
      return absl::Status(result.status().code(),
                          absl::StrCat("GPTQ of ", absl::StrJoin(names, ", "), ": ",
                                       result.status().message()));
    }
    for (size_t j = 0; j < batch.size(); ++j) {
      const GptqModule& m = modules[batch[j]];
      QuantizedModule& out = results[batch[j]];
      out.name = m.name;
      out.weight = result->quantized[j].to(m.weight.scalar_type());
      out.loss = result->losses[j].item<double>();
      out.rtn_fallback = result->rtn_fallback[j];
    }
    // Release factorizations no later batch needs.
    std::map<int, bool> released;
    for (int i : batch) {
      const int group = hessians.GroupOf(modules[i].name);
      if (released[group]) continue;
      released[group] = true;
      auto it = cache.find({group, batched});
      if (--it->second.remaining_uses == 0) cache.erase(it);
    }
  }
  return results;
}

std::string RtnFallbackSummary(const std::vector<std::string>& fallback, int64_t total) {
  if (fallback.empty() || total <= 0) return "";
  return absl::StrFormat(
      "Hessian inversion failed for %d/%d modules (%.1f%%). These modules were quantized with "
      "round-to-nearest instead of GPTQ (the quantization scheme is unchanged). Consider "
      "increasing GPTQModifier.dampening_frac, increasing the number of calibration samples, or "
      "shuffling the calibration dataset. Affected modules: %s",
      fallback.size(), total, 100.0 * static_cast<double>(fallback.size()) / total,
      absl::StrJoin(fallback, ", "));
}

}  // namespace gptq
}  // namespace backend
}  // namespace wring
