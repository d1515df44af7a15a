#include "backend/compat/torch_compat.h"

#ifdef WRING_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#include <cstdlib>
#endif

#include <cmath>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace compat {
namespace {

constexpr uint8_t kNaNBits = 0x7F;  // e4m3fn has no infinity; S.1111.111 is NaN.

absl::Status CheckFloating(const torch::Tensor& x, absl::string_view operation) {
  if (!x.defined()) return absl::InvalidArgumentError(absl::StrCat(operation, ": undefined tensor"));
  if (!x.is_floating_point()) {
    return absl::InvalidArgumentError(
        absl::StrCat(operation, ": expected a floating-point tensor, got ", std::string(c10::toString(x.scalar_type()))));
  }
  return absl::OkStatus();
}

#if !WRING_TORCH_HAS_NATIVE_FLOAT8
torch::Tensor EmulatedEncode(const torch::Tensor& x) {
  // Going through float32 is exact for bf16/fp16 and is what c10 does for
  // float64 too (double -> float -> e4m3fn).
  torch::Tensor values = x.to(torch::kCPU, torch::kFloat).contiguous();
  torch::Tensor bytes = torch::empty(values.sizes(), torch::TensorOptions().dtype(torch::kByte));
  const float* in = values.data_ptr<float>();
  uint8_t* out = bytes.data_ptr<uint8_t>();
  const int64_t n = values.numel();
  for (int64_t i = 0; i < n; ++i) out[i] = Float8E4M3FromFloat(in[i]);
  return bytes;
}

torch::Tensor EmulatedDecode(const torch::Tensor& bytes, torch::Dtype dtype) {
  torch::Tensor codes = bytes.to(torch::kCPU).contiguous();
  torch::Tensor values = torch::empty(codes.sizes(), torch::TensorOptions().dtype(torch::kFloat));
  const uint8_t* in = codes.data_ptr<uint8_t>();
  float* out = values.data_ptr<float>();
  const int64_t n = codes.numel();
  for (int64_t i = 0; i < n; ++i) out[i] = FloatFromFloat8E4M3(in[i]);
  // Every e4m3fn value is exact in bf16, fp16 and wider types.
  return values.to(dtype);
}
#endif

}  // namespace

uint8_t Float8E4M3FromFloat(float value) {
  uint32_t float_bits;
  std::memcpy(&float_bits, &value, sizeof(float_bits));
  const uint8_t sign = static_cast<uint8_t>((float_bits >> 24) & 0x80);
  const float magnitude = std::fabs(value);
  // NaN, infinity and everything from 480 (the first value that would need
  // exponent 16) up become NaN, as in c10.
  if (!(magnitude < 480.0f)) return sign | kNaNBits;
  constexpr float kMinNormal = 0.015625f;  // 2^-6
  if (magnitude < kMinNormal) {
    // Subnormals are multiples of 2^-9; scaling by 2^9 is exact, and
    // nearbyint rounds half to even in the default rounding mode. A result of
    // 8 is the smallest normal (exponent field 1, mantissa 0), which the same
    // bit pattern encodes.
    const float units = std::nearbyint(magnitude * 512.0f);
    return sign | static_cast<uint8_t>(units);
  }
  int exponent_plus_one;
  std::frexp(magnitude, &exponent_plus_one);
  int exponent = exponent_plus_one - 1;  // magnitude in [2^e, 2^(e+1))
  // (m - 1) * 8 with m = magnitude / 2^e in [1, 2) is exact in float.
  float mantissa = std::nearbyint((std::ldexp(magnitude, -exponent) - 1.0f) * 8.0f);
  if (mantissa == 8.0f) {
    mantissa = 0.0f;
    ++exponent;
  }
  // exponent <= 8 here; exponent 8 with mantissa 7 is the NaN pattern, which
  // is what c10 produces for (464, 480) as well.
  return sign | static_cast<uint8_t>(((exponent + 7) << 3) | static_cast<int>(mantissa));
}

float FloatFromFloat8E4M3(uint8_t bits) {
  const bool negative = (bits & 0x80) != 0;
  const int exponent_field = (bits >> 3) & 0x0F;
  const int mantissa_field = bits & 0x07;
  float magnitude;
  if (exponent_field == 0x0F && mantissa_field == 0x07) {
    magnitude = std::nanf("");
  } else if (exponent_field == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa_field), -9);
  } else {
    magnitude = std::ldexp(1.0f + mantissa_field / 8.0f, exponent_field - 7);
  }
  return negative ? -magnitude : magnitude;
}

std::optional<torch::Dtype> NativeFloat8E4M3Dtype() {
#if WRING_TORCH_HAS_NATIVE_FLOAT8
  return torch::kFloat8_e4m3fn;
#else
  return std::nullopt;
#endif
}

absl::StatusOr<torch::Tensor> EncodeFloat8E4M3(const torch::Tensor& x) {
  constexpr absl::string_view kOperation = "EncodeFloat8E4M3";
  if (absl::Status status = CheckFloating(x, kOperation); !status.ok()) return status;
  return CatchTorchErrors(kOperation, [&]() -> absl::StatusOr<torch::Tensor> {
#if WRING_TORCH_HAS_NATIVE_FLOAT8
    return x.to(torch::kFloat8_e4m3fn).to(torch::kCPU).contiguous().view(torch::kByte);
#else
    return EmulatedEncode(x);
#endif
  });
}

absl::StatusOr<torch::Tensor> DecodeFloat8E4M3(const torch::Tensor& bytes, torch::Dtype dtype) {
  constexpr absl::string_view kOperation = "DecodeFloat8E4M3";
  if (!bytes.defined() || bytes.scalar_type() != torch::kByte) {
    return absl::InvalidArgumentError(absl::StrCat(kOperation, ": expected a uint8 tensor of e4m3fn codes"));
  }
  if (!torch::isFloatingType(dtype)) {
    return absl::InvalidArgumentError(absl::StrCat(kOperation, ": target dtype must be floating point"));
  }
  return CatchTorchErrors(kOperation, [&]() -> absl::StatusOr<torch::Tensor> {
#if WRING_TORCH_HAS_NATIVE_FLOAT8
    return bytes.contiguous().view(torch::kFloat8_e4m3fn).to(dtype);
#else
    return EmulatedDecode(bytes, dtype);
#endif
  });
}

absl::StatusOr<torch::Tensor> RoundToFloat8E4M3(const torch::Tensor& x) {
  constexpr absl::string_view kOperation = "RoundToFloat8E4M3";
  if (absl::Status status = CheckFloating(x, kOperation); !status.ok()) return status;
  return CatchTorchErrors(kOperation, [&]() -> absl::StatusOr<torch::Tensor> {
#if WRING_TORCH_HAS_NATIVE_FLOAT8
    return x.to(torch::kFloat8_e4m3fn).to(x.scalar_type());
#else
    return EmulatedDecode(EmulatedEncode(x), x.scalar_type()).to(x.device());
#endif
  });
}

std::optional<int64_t> PeakDeviceMemoryBytes(const std::string& device) {
#ifdef WRING_WITH_CUDA
  if (device.rfind("cuda", 0) != 0 || !torch::cuda::is_available()) return std::nullopt;
  const int index = device.size() > 5 ? std::atoi(device.c_str() + 5) : 0;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
#else
  (void)device;
  return std::nullopt;
#endif
}

std::optional<int64_t> FreeDeviceMemoryBytes(const torch::Device& device) {
#ifdef WRING_WITH_CUDA
  if (!device.is_cuda() || !torch::cuda::is_available()) return std::nullopt;
  c10::cuda::CUDAGuard guard(device.has_index() ? device.index() : 0);
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return std::nullopt;
  return static_cast<int64_t>(free_bytes);
#else
  (void)device;
  return std::nullopt;
#endif
}

void SynchronizeDevice(const torch::Device& device) {
#ifdef WRING_WITH_CUDA
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
#else
  (void)device;
#endif
}

}  // namespace compat
}  // namespace backend
}  // namespace wring
