// GPTQModifier.compress_module_list for one sequential epoch (a decoder
// layer): the calibrated Linears are grouped into batches as upstream's
// assign_batches does, each batch's weights are quantized by GPTQ against
// their Hessians, and every module's quantized weight, logged loss and
// RTN fallback come back.
//
// Batches (batched_quantization): null -> one module per batch; a positive
// integer -> same-shaped modules with equal weight arguments (and dtype and
// device) together, at most that many; "auto" -> the same, capped at 75% of
// the device's free memory over upstream's per-module estimate (1 on the
// CPU). Batches change which factorization path upstream takes (batched
// from 16 modules), so wring follows them; Linears that share an input
// share one factorization whichever batches they land in.
#ifndef WRING_BACKEND_GPTQ_QUANTIZE_MODULES_H_
#define WRING_BACKEND_GPTQ_QUANTIZE_MODULES_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/gptq/gptq.h"
#include "backend/gptq/hessians.h"
#include "backend/quantize/quantize.h"

namespace wring {
namespace backend {
namespace gptq {

struct BatchedQuantization {
  enum class Mode { kAuto, kLimit, kNone };
  Mode mode = Mode::kAuto;
  int64_t limit = 0;  // kLimit: the maximum batch size (> 0)
};

struct GptqModule {
  std::string name;
  torch::Tensor weight;  // [out, in], the module's own (model dtype)
  quantize::QuantizationArgs args;
  // Equal for equal weight arguments (upstream batches on their JSON).
  std::string args_key;
  // The weight observer's qparams, from `weight` before GPTQ.
  quantize::QParams qparams;
};

struct QuantizedModule {
  std::string name;
  torch::Tensor weight;  // the fake-quantized weight, in the module's dtype
  double loss = 0;       // what upstream's CompressionLogger logs
  bool rtn_fallback = false;
};

// upstream's assign_batches: indices into `modules`, in upstream's order
// (groups of equal keys in order of first appearance); "auto" asks the
// device for its free memory.
std::vector<std::vector<int>> AssignBatches(const std::vector<GptqModule>& modules,
                                            const BatchedQuantization& batching,
                                            int64_t block_size);

// Quantizes `modules` (their Hessians in `hessians`); results in the order
// of `modules`. `log` receives upstream's "Quantizing N module(s): [...]"
// lines.
absl::StatusOr<std::vector<QuantizedModule>> QuantizeModules(
    const std::vector<GptqModule>& modules, const LayerHessians& hessians,
    const GptqOptions& options, const BatchedQuantization& batching,
    std::vector<std::string>* log);

// _log_rtn_fallback_summary's warning for `fallback` of `total` modules
// (empty when none fell back); every module is named (upstream shows ten
// and leaves the rest to DEBUG).
std::string RtnFallbackSummary(const std::vector<std::string>& fallback, int64_t total);

}  // namespace gptq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GPTQ_QUANTIZE_MODULES_H_
