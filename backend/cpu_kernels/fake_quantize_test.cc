// CalculateGroupQParams against quantize::CalculateQParams, the tensor
// operations it must reproduce: every bf16 and fp16 value as a maximum
// (and, negated, as a minimum) against minima that exercise each branch,
// random float32 pairs, and the non-finite cases, for int2 / int4 / int8,
// symmetric and asymmetric.
#include "backend/cpu_kernels/fake_quantize.h"

#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "backend/quantize/quantize.h"
#include "backend/testing/quantization_cases.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

using quantize::QuantizationStrategy;
using testing::IntArgs;

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Every 16-bit pattern of the dtype as float32 values (NaNs, infinities and
// subnormals included).
torch::Tensor AllValues(torch::Dtype dtype) {
  torch::Tensor bits = torch::arange(65536, torch::kInt32).to(torch::kInt16);
  return bits.view(dtype).to(torch::kFloat);
}

// Compares the kernel with CalculateQParams for each (lo, hi) pair, both
// given as float32 tensors holding values of `dtype`. Returns the number of
// pairs that differ (scale bits, or zero point value).
template <typename R>
int64_t CountMismatches(const torch::Tensor& lo, const torch::Tensor& hi, torch::Dtype dtype,
                        const quantize::QuantizationArgs& args) {
  absl::StatusOr<quantize::QParams> reference = quantize::CalculateQParams(lo.to(dtype), hi.to(dtype), args);
  EXPECT_TRUE(reference.ok()) << reference.status();
  if (!reference.ok()) return lo.numel();
  absl::StatusOr<quantize::QuantizedRange> range = quantize::CalculateRange(args);
  EXPECT_TRUE(range.ok());
  const torch::Tensor scale = reference->scale.to(torch::kFloat).contiguous();
  const torch::Tensor zero = reference->zero_point.to(torch::kFloat).contiguous();
  const float* lo_v = lo.data_ptr<float>();
  const float* hi_v = hi.data_ptr<float>();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < lo.numel(); ++i) {
    const GroupQParams q = CalculateGroupQParams<R>(lo_v[i], hi_v[i], args.symmetric, static_cast<float>(range->min),
                                                    static_cast<float>(range->max));
    const float want_scale = scale.data_ptr<float>()[i], want_zero = zero.data_ptr<float>()[i];
    const bool same_scale = Bits(q.scale) == Bits(want_scale) || (q.scale != q.scale && want_scale != want_scale);
    if (!same_scale || q.zero != want_zero) {
      if (++mismatches <= 5) {
        ADD_FAILURE() << "lo " << lo_v[i] << " hi " << hi_v[i] << ": scale " << q.scale << " zero " << q.zero
                      << ", CalculateQParams " << want_scale << " " << want_zero;
      }
    }
  }
  return mismatches;
}

std::vector<quantize::QuantizationArgs> AllArgs() {
  std::vector<quantize::QuantizationArgs> all;
  for (int bits : {2, 4, 8}) {
    for (bool symmetric : {true, false}) all.push_back(IntArgs(bits, symmetric, QuantizationStrategy::kChannel));
  }
  return all;
}

template <typename R>
void CheckEveryHalfPrecisionValue(torch::Dtype dtype) {
  const torch::Tensor values = AllValues(dtype);
  const float kNan = std::numeric_limits<float>::quiet_NaN(), kInf = std::numeric_limits<float>::infinity();
  // Minima: the value's negation (a symmetric range), zero, a fixed
  // negative, NaN and -inf; maxima: the value itself. And the value as the
  // minimum of a range whose maximum is a fixed positive.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> pairs = {
      {-values, values},
      {torch::zeros_like(values), values},
      {torch::full_like(values, -0.75f), values},
      {torch::full_like(values, kNan), values},
      {torch::full_like(values, -kInf), values},
      {values, torch::full_like(values, 1.5f)},
      {values * 3, values},
  };
  for (const quantize::QuantizationArgs& args : AllArgs()) {
    for (const auto& [lo, hi] : pairs) {
      // Values of the dtype, as the kernel's extremes are.
      const torch::Tensor lo_d = lo.to(dtype).to(torch::kFloat).contiguous();
      const torch::Tensor hi_d = hi.to(dtype).to(torch::kFloat).contiguous();
      EXPECT_EQ(CountMismatches<R>(lo_d, hi_d, dtype, args), 0)
          << args.num_bits << " bits, " << (args.symmetric ? "symmetric" : "asymmetric");
    }
  }
}

TEST(CalculateGroupQParamsTest, EveryBf16ValueAgreesWithCalculateQParams) {
  CheckEveryHalfPrecisionValue<RoundBf16>(torch::kBFloat16);
}

TEST(CalculateGroupQParamsTest, EveryFp16ValueAgreesWithCalculateQParams) {
  CheckEveryHalfPrecisionValue<RoundHalf>(torch::kHalf);
}

TEST(CalculateGroupQParamsTest, Float32RangesAgreeWithCalculateQParams) {
  torch::manual_seed(7);
  const int64_t n = 1 << 18;
  // Magnitudes over many binades, either sign, and exact zeros.
  torch::Tensor lo = torch::randn({n}) * torch::exp(torch::randn({n}) * 8);
  torch::Tensor hi = torch::randn({n}) * torch::exp(torch::randn({n}) * 8);
  lo.index_put_({torch::indexing::Slice(0, 1000)}, 0.0f);
  hi.index_put_({torch::indexing::Slice(500, 1500)}, 0.0f);
  for (const quantize::QuantizationArgs& args : AllArgs()) {
    EXPECT_EQ(CountMismatches<RoundFloat>(lo, hi, torch::kFloat, args), 0)
        << args.num_bits << " bits, " << (args.symmetric ? "symmetric" : "asymmetric");
  }
}

TEST(CalculateGroupQParamsTest, ZeroRangeTakesTheDtypesEpsilon) {
  for (bool symmetric : {true, false}) {
    const GroupQParams q = CalculateGroupQParams<RoundBf16>(0.0f, 0.0f, symmetric, -8.0f, 7.0f);
    EXPECT_EQ(q.scale, 0.0078125f);
    EXPECT_EQ(q.zero, 0.0f);
  }
  EXPECT_EQ((CalculateGroupQParams<RoundHalf>(0.0f, 0.0f, true, -8.0f, 7.0f).scale), 0.0009765625f);
  EXPECT_EQ((CalculateGroupQParams<RoundFloat>(0.0f, 0.0f, true, -8.0f, 7.0f).scale),
            std::numeric_limits<float>::epsilon());
}

}  // namespace
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
