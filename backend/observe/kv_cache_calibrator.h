// Calibration of one attention module's KV cache (kv_cache_scheme), as
// compressed-tensors' QuantizedKVCache and llm-compressor's key/value hooks do.
//
// Keys are observed after RoPE and values as projected, both shaped
// [batch, num_kv_heads, tokens, head_dim], once per forward call, by a `k`
// and a `v` observer built from the same args (ResolveObserverName: the
// scheme's observer, "minmax" when unset). UpdateQParams / Freeze produce the
// attention module's `k_scale` and `v_scale`: the dtype of the attention
// module's first parameter (q_proj.weight), shape (1,) for tensor and
// (num_kv_heads, 1, 1) for attn_head; plus `k_zero_point` / `v_zero_point`
// only for asymmetric args (kv-cache parameters are registered with
// force_zero_point=False). Typical scheme: fp8, tensor, static, symmetric ->
// k_scale = absmax(keys) / 448.
#ifndef WRING_BACKEND_OBSERVE_KV_CACHE_CALIBRATOR_H_
#define WRING_BACKEND_OBSERVE_KV_CACHE_CALIBRATOR_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/observe/observer.h"
#include "backend/quantize/quantize.h"
#include "mapping/quantization/quantization_args.h"

namespace wring {
namespace backend {
namespace observe {
namespace internal {
class CalibratedValue;
}  // namespace internal

struct KvCacheQParams {
  quantize::QParams key;    // zero_point undefined for symmetric args
  quantize::QParams value;
};

class KvCacheCalibrator {
 public:
  // `attention_dtype`: dtype of the attention module's parameters.
  static absl::StatusOr<std::unique_ptr<KvCacheCalibrator>> Create(const mapping::QuantizationArgs& kv_cache_scheme,
                                                                   torch::Dtype attention_dtype,
                                                                   int64_t num_kv_heads, int64_t head_dim);

  ~KvCacheCalibrator();

  bool is_dynamic() const;
  const std::string& observer_name() const;
  // The key and value observers (data-parallel workers combine their
  // statistics); empty for dynamic args.
  std::vector<Observer*> Observers() const;
  const quantize::QuantizationArgs& args() const;

  absl::Status ObserveKey(const torch::Tensor& key_states);
  absl::Status ObserveValue(const torch::Tensor& value_states);
  absl::Status UpdateQParams();
  absl::StatusOr<KvCacheQParams> Freeze();

  // What QuantizedKVCache hands the cache when quantization is enabled.
  absl::StatusOr<torch::Tensor> FakeQuantizeKey(const torch::Tensor& key_states) const;
  absl::StatusOr<torch::Tensor> FakeQuantizeValue(const torch::Tensor& value_states) const;

 private:
  KvCacheCalibrator(std::unique_ptr<internal::CalibratedValue> key, std::unique_ptr<internal::CalibratedValue> value,
                    int64_t num_kv_heads, int64_t head_dim);

  absl::Status CheckStates(const torch::Tensor& states, const char* what) const;

  std::unique_ptr<internal::CalibratedValue> key_;
  std::unique_ptr<internal::CalibratedValue> value_;
  int64_t num_kv_heads_;
  int64_t head_dim_;
};

}  // namespace observe
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_OBSERVE_KV_CACHE_CALIBRATOR_H_
