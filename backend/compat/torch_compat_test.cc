#include "backend/compat/torch_compat.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace compat {
namespace {

TEST(Float8E4M3Scalar, KnownEncodings) {
  EXPECT_EQ(Float8E4M3FromFloat(0.0f), 0x00);
  EXPECT_EQ(Float8E4M3FromFloat(-0.0f), 0x80);
  EXPECT_EQ(Float8E4M3FromFloat(1.0f), 0x38);
  EXPECT_EQ(Float8E4M3FromFloat(-2.0f), 0xC0);
  EXPECT_EQ(Float8E4M3FromFloat(448.0f), 0x7E);
  EXPECT_EQ(Float8E4M3FromFloat(-448.0f), 0xFE);
  EXPECT_EQ(Float8E4M3FromFloat(std::ldexp(1.0f, -6)), 0x08);  // smallest normal
  EXPECT_EQ(Float8E4M3FromFloat(std::ldexp(1.0f, -9)), 0x01);  // smallest subnormal
  EXPECT_EQ(Float8E4M3FromFloat(std::ldexp(7.0f, -9)), 0x07);  // largest subnormal
}

TEST(Float8E4M3Scalar, TiesRoundToEven) {
  // Halfway between 1.0 (mantissa 0) and 1.125 (mantissa 1): down to even.
  EXPECT_EQ(Float8E4M3FromFloat(1.0625f), 0x38);
  // Halfway between 1.125 and 1.25: up to even mantissa 2.
  EXPECT_EQ(Float8E4M3FromFloat(1.1875f), 0x3A);
  // Half the smallest subnormal: to zero; 1.5 subnormal units: to 2.
  EXPECT_EQ(Float8E4M3FromFloat(std::ldexp(1.0f, -10)), 0x00);
  EXPECT_EQ(Float8E4M3FromFloat(std::ldexp(3.0f, -10)), 0x02);
  // Between the largest subnormal and the smallest normal: 7.5 units -> 8.
  EXPECT_EQ(Float8E4M3FromFloat(std::ldexp(15.0f, -10)), 0x08);
  // Just above a tie rounds up.
  EXPECT_EQ(Float8E4M3FromFloat(std::nextafter(1.0625f, 2.0f)), 0x39);
}

TEST(Float8E4M3Scalar, OutOfRangeBecomesNaNLikePyTorch) {
  // 464 is the tie between 448 and the NaN pattern: even mantissa wins.
  EXPECT_EQ(Float8E4M3FromFloat(464.0f), 0x7E);
  EXPECT_EQ(Float8E4M3FromFloat(465.0f), 0x7F);
  EXPECT_EQ(Float8E4M3FromFloat(480.0f), 0x7F);
  EXPECT_EQ(Float8E4M3FromFloat(-1e6f), 0xFF);
  EXPECT_EQ(Float8E4M3FromFloat(std::numeric_limits<float>::infinity()), 0x7F);
  EXPECT_EQ(Float8E4M3FromFloat(std::numeric_limits<float>::quiet_NaN()), 0x7F);
  EXPECT_TRUE(std::isnan(FloatFromFloat8E4M3(0x7F)));
  EXPECT_TRUE(std::isnan(FloatFromFloat8E4M3(0xFF)));
}

TEST(Float8E4M3Scalar, EveryCodeRoundTrips) {
  for (int code = 0; code < 256; ++code) {
    const float value = FloatFromFloat8E4M3(static_cast<uint8_t>(code));
    EXPECT_EQ(Float8E4M3FromFloat(value), code) << "code " << code << " value " << value;
  }
  EXPECT_EQ(FloatFromFloat8E4M3(0x7E), 448.0f);
  EXPECT_EQ(FloatFromFloat8E4M3(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(FloatFromFloat8E4M3(0xB9), -1.125f);
}

// Independent oracle: brute-force nearest finite e4m3fn value, ties to the
// even code.
float NearestByBruteForce(float x) {
  float best = 0.0f;
  float best_distance = std::numeric_limits<float>::infinity();
  int best_code = 0;
  for (int code = 0; code < 256; ++code) {
    const float candidate = FloatFromFloat8E4M3(static_cast<uint8_t>(code));
    if (std::isnan(candidate)) continue;
    const float distance = std::fabs(candidate - x);
    const bool tie_to_even = distance == best_distance && (code & 1) == 0 && (best_code & 1) == 1;
    if (distance < best_distance || tie_to_even) {
      best = candidate;
      best_distance = distance;
      best_code = code;
    }
  }
  return best;
}

TEST(Float8E4M3Scalar, MatchesNearestValueOnRandomInputs) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-12.0f, 8.9f);
  std::bernoulli_distribution negative(0.5);
  for (int i = 0; i < 20000; ++i) {
    float x = std::exp2(exponent(rng));
    if (x > 448.0f) x = 448.0f;
    if (negative(rng)) x = -x;
    const float expected = NearestByBruteForce(x);
    const float got = FloatFromFloat8E4M3(Float8E4M3FromFloat(x));
    // Compare magnitudes: +0 and -0 are both "zero" for the oracle.
    ASSERT_EQ(std::fabs(got), std::fabs(expected)) << "x = " << x;
  }
}

TEST(Float8E4M3Tensor, RoundKeepsDtypeAndShape) {
  torch::Tensor x = torch::tensor({1.0625f, 1.1875f, -300.0f, 0.001f}).to(torch::kBFloat16).reshape({2, 2});
  absl::StatusOr<torch::Tensor> rounded = RoundToFloat8E4M3(x);
  ASSERT_TRUE(rounded.ok()) << rounded.status();
  EXPECT_EQ(rounded->scalar_type(), torch::kBFloat16);
  EXPECT_EQ(rounded->sizes(), x.sizes());
  torch::Tensor as_float = rounded->to(torch::kFloat).flatten();
  // bf16(0.001) = 0.00099945068..., 0.51 subnormal units -> 1 unit = 2^-9.
  const std::vector<float> expected = {1.0f, 1.25f, -288.0f, std::ldexp(1.0f, -9)};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(as_float[i].item<float>(), expected[i]) << i;
}

TEST(Float8E4M3Tensor, EncodeDecodeBytes) {
  torch::Tensor x = torch::tensor({0.0f, 1.0f, -448.0f, 0.5f});
  absl::StatusOr<torch::Tensor> bytes = EncodeFloat8E4M3(x);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_EQ(bytes->scalar_type(), torch::kByte);
  ASSERT_TRUE(bytes->is_contiguous());
  const uint8_t* data = bytes->data_ptr<uint8_t>();
  EXPECT_EQ(data[0], 0x00);
  EXPECT_EQ(data[1], 0x38);
  EXPECT_EQ(data[2], 0xFE);
  EXPECT_EQ(data[3], 0x30);
  absl::StatusOr<torch::Tensor> back = DecodeFloat8E4M3(*bytes, torch::kFloat16);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->scalar_type(), torch::kFloat16);
  EXPECT_TRUE(torch::equal(back->to(torch::kFloat), x));
}

TEST(Float8E4M3Tensor, RejectsWrongDtypes) {
  EXPECT_EQ(RoundToFloat8E4M3(torch::ones({2}, torch::kInt)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeFloat8E4M3(torch::ones({2}, torch::kLong)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeFloat8E4M3(torch::ones({2}, torch::kFloat), torch::kFloat).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeFloat8E4M3(torch::ones({2}, torch::kByte), torch::kInt).status().code(),
            absl::StatusCode::kInvalidArgument);
}

#if WRING_TORCH_HAS_NATIVE_FLOAT8
// On LibTorch >= 2.1 the scalar emulation must agree with the native cast
// for every bf16 bit pattern.
TEST(Float8E4M3Tensor, ScalarEmulationMatchesNativeCast) {
  torch::Tensor all_bf16 = torch::arange(0, 65536, torch::kInt).to(torch::kShort).view(torch::kBFloat16);
  torch::Tensor native = all_bf16.to(torch::kFloat8_e4m3fn).view(torch::kByte);
  torch::Tensor as_float = all_bf16.to(torch::kFloat);
  for (int64_t i = 0; i < 65536; ++i) {
    ASSERT_EQ(Float8E4M3FromFloat(as_float[i].item<float>()), native[i].item<uint8_t>()) << i;
  }
}
#endif

}  // namespace
}  // namespace compat
}  // namespace backend
}  // namespace wring
