// CalculateGroupQParams against quantize::CalculateQParams, the tensor
// operations it must reproduce: every bf16 and fp16 value as a maximum
// (and, negated, as a minimum) against minima that exercise each branch,
// random float32 pairs, and the non-finite cases, for int2 / int4 / int8,
// symmetric and asymmetric. DivideByReciprocal against the division.
#include "backend/cpu_kernels/fake_quantize.h"

#include <torch/torch.h>

#include <cmath>
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

uint64_t Bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// The quotient by reciprocal against the division for every bf16 and fp16
// value (zeros, subnormals, infinities, NaN) as the dividend and divisors
// over the whole allowed range: random significands in many binades, the
// range's ends, powers of two and all-ones significands (where 1 / b rounds
// the most).
TEST(DivideByReciprocalTest, EqualsTheDivisionBitForBit) {
  std::vector<double> divisors = {1.0, 3.0, 0.1, 1e-4, 7.0 / 3.0, 0x1p-400, 0x1p400, -2.5,
                                  std::nextafter(2.0, 0.0), std::nextafter(0x1p-400, 1.0),
                                  std::nextafter(0x1p400, 0.0)};
  torch::manual_seed(11);
  const torch::Tensor random = torch::rand({300}, torch::kDouble) + 1;
  const torch::Tensor exponents = torch::randint(-60, 60, {300}, torch::kDouble);
  for (int64_t i = 0; i < random.numel(); ++i) {
    divisors.push_back(std::ldexp(random[i].item<double>(), static_cast<int>(exponents[i].item<double>())));
  }
  for (torch::Dtype dtype : {torch::kBFloat16, torch::kHalf}) {
    const torch::Tensor values = AllValues(dtype).contiguous();
    const float* v = values.data_ptr<float>();
    int64_t mismatches = 0;
    for (const double b : divisors) {
      ASSERT_TRUE(ReciprocalDivisionIsExact(b)) << b;
      const double y = 1.0 / b;
      for (int64_t i = 0; i < values.numel(); ++i) {
        const double want = static_cast<double>(v[i]) / b, got = DivideByReciprocal(v[i], b, y);
        const bool same = Bits(got) == Bits(want) || (got != got && want != want);
        if (!same && ++mismatches <= 5) ADD_FAILURE() << v[i] << " / " << b << ": " << got << " vs " << want;
      }
    }
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(DivideByReciprocalTest, RangeLeavesOutWhatCouldUnderflow) {
  EXPECT_TRUE(ReciprocalDivisionIsExact(1e-4));
  EXPECT_TRUE(ReciprocalDivisionIsExact(-3.0));
  EXPECT_FALSE(ReciprocalDivisionIsExact(0.0));
  EXPECT_FALSE(ReciprocalDivisionIsExact(0x1p-401));
  EXPECT_FALSE(ReciprocalDivisionIsExact(0x1p401));
  EXPECT_FALSE(ReciprocalDivisionIsExact(std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(ReciprocalDivisionIsExact(std::numeric_limits<double>::quiet_NaN()));
}

// The float32 shortcut AWQ's candidates take for float64 steps: a bf16
// value times a float64 factor, through float32 factor and product. Where
// NeedsExactBf16Rounding does not flag the product, it rounds to the bf16
// of the float64 product; products placed on and beside the midpoints show
// that unflagged ones would differ.
TEST(NeedsExactBf16RoundingTest, UnflaggedFloat32ProductsRoundAsFloat64Ones) {
  torch::manual_seed(5);
  const torch::Tensor a = torch::randn({1 << 20}).to(torch::kBFloat16).to(torch::kFloat);
  const torch::Tensor b = torch::exp(torch::randn({1 << 20}, torch::kDouble) * 3);
  const float* av = a.data_ptr<float>();
  const double* bv = b.data_ptr<double>();
  int64_t flagged = 0, would_differ = 0;
  auto check = [&](float x, double factor) -> bool {
    const float fast = x * static_cast<float>(factor);
    const float exact = static_cast<float>(static_cast<double>(x) * factor);
    const bool differ = RoundBf16::Round(fast) != RoundBf16::Round(exact);
    if (NeedsExactBf16Rounding(fast, x != 0.0f)) {
      would_differ += differ;
      return true;
    }
    EXPECT_FALSE(differ) << x << " * " << factor;
    return false;
  };
  for (int64_t i = 0; i < a.numel(); ++i) {
    flagged += check(av[i], bv[i]);
    if (av[i] == 0.0f) continue;
    // The factor that puts the product d float32 steps beside a midpoint.
    const float rounded = RoundBf16::Round(static_cast<float>(av[i] * bv[i]));
    const double step = std::nextafter(rounded, 2 * rounded) - rounded;
    check(av[i], (static_cast<double>(rounded) + (32768.0 + static_cast<double>(i % 5 - 2)) * step) / av[i]);
  }
  EXPECT_GT(would_differ, 1000);
  // Rare among products at random: the shortcut's premise.
  EXPECT_LT(flagged, a.numel() / 1000);
  // Overflow, underflow and NaN are flagged; zero from zero is not.
  EXPECT_TRUE(NeedsExactBf16Rounding(std::numeric_limits<float>::infinity(), true));
  EXPECT_TRUE(NeedsExactBf16Rounding(std::numeric_limits<float>::quiet_NaN(), true));
  EXPECT_TRUE(NeedsExactBf16Rounding(0.0f, true));
  EXPECT_TRUE(NeedsExactBf16Rounding(std::numeric_limits<float>::denorm_min(), true));
  EXPECT_FALSE(NeedsExactBf16Rounding(0.0f, false));
  EXPECT_FALSE(NeedsExactBf16Rounding(1.0f, true));
}

}  // namespace
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
