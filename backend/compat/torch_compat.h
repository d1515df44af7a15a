// The one place that knows which LibTorch it is compiled against.
//
// wring's backend builds against Debian's LibTorch 1.13 (CPU, what CI runs)
// and against the CUDA LibTorch of a PyTorch 2.x wheel. Everything that must
// differ between those versions lives here, so the rest of the backend is
// written once. Today that is float8: LibTorch 1.13 has no float8_e4m3fn
// dtype, so the e4m3fn cast is emulated there, bit-exactly as PyTorch's
// c10::Float8_e4m3fn converts (round to nearest even; no saturation:
// |x| >= 464 rounds to the NaN encoding, as in PyTorch, which is why callers
// clamp to +-448 first, like compressed-tensors does).
#ifndef WRING_BACKEND_COMPAT_TORCH_COMPAT_H_
#define WRING_BACKEND_COMPAT_TORCH_COMPAT_H_

#include <torch/torch.h>
#include <torch/version.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace wring {
namespace backend {
namespace compat {

inline constexpr int kTorchMajor = TORCH_VERSION_MAJOR;
inline constexpr int kTorchMinor = TORCH_VERSION_MINOR;

// torch::kFloat8_e4m3fn exists from PyTorch 2.1 on. A macro as well, for the
// few places (here and in tests) that must not even name the dtype on 1.13.
#define WRING_TORCH_HAS_NATIVE_FLOAT8 \
  (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1))
inline constexpr bool kHasNativeFloat8 = WRING_TORCH_HAS_NATIVE_FLOAT8;

// Largest finite float8_e4m3fn magnitude (torch.finfo(float8_e4m3fn).max).
inline constexpr float kFloat8E4M3Max = 448.0f;

// The native float8_e4m3fn dtype, or nullopt where LibTorch lacks it.
std::optional<torch::Dtype> NativeFloat8E4M3Dtype();

// x.to(float8_e4m3fn).to(x.dtype()): every element rounded to the nearest
// e4m3fn value. `x` must be floating point (any device).
absl::StatusOr<torch::Tensor> RoundToFloat8E4M3(const torch::Tensor& x);

// The e4m3fn encoding of `x` as a uint8 tensor of the same shape (CPU,
// contiguous): the bytes a safetensors "F8_E4M3" tensor holds.
absl::StatusOr<torch::Tensor> EncodeFloat8E4M3(const torch::Tensor& x);

// The inverse: uint8 e4m3fn bytes to values of floating dtype `dtype`.
absl::StatusOr<torch::Tensor> DecodeFloat8E4M3(const torch::Tensor& bytes, torch::Dtype dtype);

// Scalar conversions, exposed for tests and for code that handles single
// values. Identical to c10::Float8_e4m3fn's conversions.
uint8_t Float8E4M3FromFloat(float value);
float FloatFromFloat8E4M3(uint8_t bits);

// Peak bytes the caching allocator has handed out on a CUDA device
// ("cuda", "cuda:N"), or nullopt for the CPU and for builds without CUDA
// (WRING_WITH_CUDA is defined by the CMake build against a CUDA LibTorch).
std::optional<int64_t> PeakDeviceMemoryBytes(const std::string& device);

// Bytes the driver reports free on a CUDA device (torch.cuda.mem_get_info's
// first value), or nullopt for the CPU and for builds without CUDA.
std::optional<int64_t> FreeDeviceMemoryBytes(const torch::Device& device);

// Waits for the work queued on a CUDA device, so that a host clock measures
// it; nothing for the CPU and for builds without CUDA.
void SynchronizeDevice(const torch::Device& device);

}  // namespace compat
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_COMPAT_TORCH_COMPAT_H_
