#include "backend/quantize/quantize.h"

#include <cmath>
#include <limits>
#include <vector>

#include "backend/pack/pack.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace quantize {
namespace {

QuantizationArgs IntArgs(int bits, bool symmetric, QuantizationStrategy strategy = QuantizationStrategy::kTensor,
                         int64_t group_size = 0) {
  QuantizationArgs args;
  args.num_bits = bits;
  args.symmetric = symmetric;
  args.strategy = strategy;
  args.group_size = group_size;
  return args;
}

std::vector<float> Values(const torch::Tensor& t) {
  torch::Tensor flat = t.to(torch::kFloat).contiguous().flatten();
  return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
}

std::vector<int> IntValues(const torch::Tensor& t) {
  torch::Tensor flat = t.to(torch::kInt).contiguous().flatten();
  return std::vector<int>(flat.data_ptr<int>(), flat.data_ptr<int>() + flat.numel());
}

// llm-compressor tests/llmcompressor/observers/test_min_max.py.
TEST(CalculateQParams, UpstreamMinMaxObserverExample) {
  torch::Tensor ones = torch::ones({1, 5});
  absl::StatusOr<QParams> symmetric = ComputeWeightQParams(ones, IntArgs(8, true));
  ASSERT_TRUE(symmetric.ok()) << symmetric.status();
  EXPECT_EQ(symmetric->scale.sizes().vec(), std::vector<int64_t>({1}));
  EXPECT_FLOAT_EQ(symmetric->scale.item<float>(), 1.0f / 127.5f);
  EXPECT_EQ(symmetric->zero_point.scalar_type(), torch::kChar);
  EXPECT_EQ(symmetric->zero_point.item<int>(), 0);

  absl::StatusOr<QParams> asymmetric = ComputeWeightQParams(ones, IntArgs(8, false));
  ASSERT_TRUE(asymmetric.ok()) << asymmetric.status();
  EXPECT_FLOAT_EQ(asymmetric->scale.item<float>(), 1.0f / 255.0f);
  EXPECT_EQ(asymmetric->zero_point.item<int>(), -128);  // min clamped up to 0
}

TEST(CalculateQParams, ScaleIsComputedInTheWeightDtype) {
  // 1/127.5 = 0.0078431...; in bf16 that rounds to 0.00787353515625, which a
  // float32 computation would not produce.
  torch::Tensor weight = torch::tensor({-1.0f, 0.5f}).to(torch::kBFloat16).reshape({1, 2});
  absl::StatusOr<QParams> qparams = ComputeWeightQParams(weight, IntArgs(8, true));
  ASSERT_TRUE(qparams.ok()) << qparams.status();
  EXPECT_EQ(qparams->scale.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(qparams->scale.to(torch::kFloat).item<float>(), 0.00787353515625f);
}

TEST(FakeQuantize, SymmetricInt4ClipsThePositiveExtremeAndRoundsHalfToEven) {
  // absmax 7.5 -> scale 7.5 / 7.5 = 1, so x / scale is x itself.
  torch::Tensor weight = torch::tensor({-7.5f, 7.5f, 2.5f, 3.5f, -0.5f, 0.25f}).reshape({1, 6});
  const QuantizationArgs args = IntArgs(4, true);
  absl::StatusOr<QParams> qparams = ComputeWeightQParams(weight, args);
  ASSERT_TRUE(qparams.ok()) << qparams.status();
  EXPECT_EQ(qparams->scale.item<float>(), 1.0f);
  absl::StatusOr<torch::Tensor> q = Quantize(weight, *qparams, args, torch::kChar);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->scalar_type(), torch::kChar);
  // -7.5 -> -8 (tie to even), +7.5 clamped to 7, 2.5 -> 2, 3.5 -> 4, -0.5 -> 0.
  EXPECT_EQ(IntValues(*q), std::vector<int>({-8, 7, 2, 4, 0, 0}));
  absl::StatusOr<torch::Tensor> fake = FakeQuantize(weight, *qparams, args);
  ASSERT_TRUE(fake.ok()) << fake.status();
  EXPECT_EQ(Values(*fake), std::vector<float>({-8, 7, 2, 4, 0, 0}));
}

TEST(FakeQuantize, AsymmetricInt4FollowsFloat32Arithmetic) {
  // min -1, max 1: scale = f32(2/15); -1/scale = -7.4999995 in float32, so
  // zp = round(-8 + 7.4999995) = round(-0.5000005) = -1, not 0. Then
  // -1/scale + zp = -8.5 clamps to -8 and dequantizes to -7 * scale.
  torch::Tensor weight = torch::tensor({-1.0f, 1.0f, 0.5f}).reshape({1, 3});
  const QuantizationArgs args = IntArgs(4, false);
  absl::StatusOr<QParams> qparams = ComputeWeightQParams(weight, args);
  ASSERT_TRUE(qparams.ok()) << qparams.status();
  EXPECT_EQ(qparams->scale.item<float>(), 2.0f / 15.0f);
  EXPECT_EQ(qparams->zero_point.item<int>(), -1);
  absl::StatusOr<torch::Tensor> q = Quantize(weight, *qparams, args, torch::kChar);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(IntValues(*q), std::vector<int>({-8, 6, 3}));
  absl::StatusOr<torch::Tensor> fake = FakeQuantize(weight, *qparams, args);
  ASSERT_TRUE(fake.ok()) << fake.status();
  EXPECT_EQ(Values(*fake), std::vector<float>({-0.9333333969116211f, 0.9333333969116211f, 0.5333333611488342f}));
}

TEST(FakeQuantize, AsymmetricFloat16OnCpu) {
  // LibTorch 1.13 has no fp16 clamp with tensor bounds on the CPU; the result
  // must still be computed (exactly, the clamp only selects values).
  torch::Tensor weight = torch::tensor({-1.0f, 1.0f, 0.5f, 0.25f}).to(torch::kHalf).reshape({1, 4});
  const QuantizationArgs args = IntArgs(4, false);
  absl::StatusOr<QParams> qparams = ComputeWeightQParams(weight, args);
  ASSERT_TRUE(qparams.ok()) << qparams.status();
  EXPECT_EQ(qparams->scale.scalar_type(), torch::kHalf);
  absl::StatusOr<torch::Tensor> fake = FakeQuantize(weight, *qparams, args);
  ASSERT_TRUE(fake.ok()) << fake.status();
  EXPECT_EQ(fake->scalar_type(), torch::kHalf);
  // Every value lands within half a quantization step of the input.
  const float step = qparams->scale.to(torch::kFloat).item<float>();
  EXPECT_LE((*fake - weight).abs().max().to(torch::kFloat).item<float>(), step / 2 + 1e-3f);
}

TEST(FakeQuantize, NegativeOnlyGroups) {
  // Row 0 is one group of [-4, -2]; max is raised to 0.
  torch::Tensor weight = torch::tensor({-4.0f, -2.0f}).reshape({1, 2});

  // Symmetric int4: scale = f32(4 / 7.5); -4/scale = -7.4999995 rounds to
  // -7 (not -8), -2/scale = -3.7499998 rounds to -4.
  const QuantizationArgs symmetric = IntArgs(4, true, QuantizationStrategy::kGroup, 2);
  absl::StatusOr<QParams> sym = ComputeWeightQParams(weight, symmetric);
  ASSERT_TRUE(sym.ok()) << sym.status();
  EXPECT_EQ(sym->scale.sizes().vec(), std::vector<int64_t>({1, 1}));
  EXPECT_EQ(sym->scale.item<float>(), 4.0f / 7.5f);
  absl::StatusOr<torch::Tensor> sym_fake = FakeQuantize(weight, *sym, symmetric);
  ASSERT_TRUE(sym_fake.ok()) << sym_fake.status();
  EXPECT_EQ(Values(*sym_fake), std::vector<float>({-3.7333335876464844f, -2.133333444595337f}));

  // Asymmetric int4: scale = f32(4/15), zp = -8 + 14.999999 rounds to 7, the
  // top of the range, so -4 maps to -8 and back to -4 * (15/15).
  const QuantizationArgs asymmetric = IntArgs(4, false, QuantizationStrategy::kGroup, 2);
  absl::StatusOr<QParams> asym = ComputeWeightQParams(weight, asymmetric);
  ASSERT_TRUE(asym.ok()) << asym.status();
  EXPECT_EQ(asym->zero_point.item<int>(), 7);
  absl::StatusOr<torch::Tensor> asym_q = Quantize(weight, *asym, asymmetric, torch::kChar);
  ASSERT_TRUE(asym_q.ok()) << asym_q.status();
  EXPECT_EQ(IntValues(*asym_q), std::vector<int>({-8, 0}));
  absl::StatusOr<torch::Tensor> asym_fake = FakeQuantize(weight, *asym, asymmetric);
  ASSERT_TRUE(asym_fake.ok()) << asym_fake.status();
  EXPECT_FLOAT_EQ(Values(*asym_fake)[0], -4.0f);
  EXPECT_EQ(Values(*asym_fake)[1], -1.8666667938232422f);  // (0 - 7) * scale
}

TEST(FakeQuantize, AllZeroGroupGetsEpsScaleAndStaysZero) {
  // Group 0 is all zeros, group 1 is not.
  torch::Tensor weight = torch::tensor({0.0f, 0.0f, 1.0f, -2.0f}).to(torch::kBFloat16).reshape({1, 4});
  for (bool symmetric : {true, false}) {
    const QuantizationArgs args = IntArgs(4, symmetric, QuantizationStrategy::kGroup, 2);
    absl::StatusOr<QParams> qparams = ComputeWeightQParams(weight, args);
    ASSERT_TRUE(qparams.ok()) << qparams.status();
    // torch.finfo(bfloat16).eps.
    EXPECT_EQ(Values(qparams->scale)[0], 0.0078125f) << symmetric;
    // Asymmetric: 0 - 0/0 is NaN; stored as 0.
    EXPECT_EQ(IntValues(qparams->zero_point)[0], 0) << symmetric;
    absl::StatusOr<torch::Tensor> fake = FakeQuantize(weight, *qparams, args);
    ASSERT_TRUE(fake.ok()) << fake.status();
    EXPECT_EQ(fake->scalar_type(), torch::kBFloat16);
    EXPECT_EQ(Values(*fake)[0], 0.0f);
    EXPECT_EQ(Values(*fake)[1], 0.0f);
  }
  absl::StatusOr<QParams> float32 = ComputeWeightQParams(torch::zeros({2, 3}), IntArgs(8, true));
  ASSERT_TRUE(float32.ok());
  EXPECT_EQ(float32->scale.item<float>(), std::numeric_limits<float>::epsilon());
}

TEST(ObserveMinMax, ShapesPerStrategy) {
  torch::Tensor weight = torch::arange(24, torch::kFloat).reshape({4, 6}) - 10;
  absl::StatusOr<MinMax> tensor = ObserveMinMax(weight, IntArgs(8, true));
  ASSERT_TRUE(tensor.ok());
  EXPECT_EQ(tensor->min.sizes().vec(), std::vector<int64_t>({1}));
  EXPECT_EQ(tensor->min.item<float>(), -10.0f);
  EXPECT_EQ(tensor->max.item<float>(), 13.0f);

  absl::StatusOr<MinMax> channel = ObserveMinMax(weight, IntArgs(8, true, QuantizationStrategy::kChannel));
  ASSERT_TRUE(channel.ok());
  EXPECT_EQ(channel->min.sizes().vec(), std::vector<int64_t>({4, 1}));
  EXPECT_EQ(Values(channel->min), std::vector<float>({-10, -4, 2, 8}));
  EXPECT_EQ(Values(channel->max), std::vector<float>({-5, 1, 7, 13}));

  absl::StatusOr<MinMax> group = ObserveMinMax(weight, IntArgs(8, true, QuantizationStrategy::kGroup, 3));
  ASSERT_TRUE(group.ok());
  EXPECT_EQ(group->min.sizes().vec(), std::vector<int64_t>({4, 2}));
  EXPECT_EQ(Values(group->min), std::vector<float>({-10, -7, -4, -1, 2, 5, 8, 11}));
}

TEST(FakeQuantize, ChannelScalesPerRow) {
  torch::Tensor weight = torch::tensor({-127.5f, 10.0f, 0.0f, 255.0f}).reshape({2, 2});
  const QuantizationArgs args = IntArgs(8, true, QuantizationStrategy::kChannel);
  absl::StatusOr<QParams> qparams = ComputeWeightQParams(weight, args);
  ASSERT_TRUE(qparams.ok());
  EXPECT_EQ(qparams->scale.sizes().vec(), std::vector<int64_t>({2, 1}));
  EXPECT_EQ(Values(qparams->scale), std::vector<float>({1.0f, 2.0f}));
  absl::StatusOr<torch::Tensor> fake = FakeQuantize(weight, *qparams, args);
  ASSERT_TRUE(fake.ok());
  // -127.5 -> -128 (even); 255/2 = 127.5 clamps to 127 -> 254.
  EXPECT_EQ(Values(*fake), std::vector<float>({-128, 10, 0, 254}));
}

TEST(FakeQuantize, Float8TensorScale) {
  QuantizationArgs args;
  args.type = QuantizationType::kFloat;
  args.num_bits = 8;
  // absmax 896 -> scale 896 / (896 / 2) = 2.
  torch::Tensor weight = torch::tensor({896.0f, -896.0f, 2.125f, 17.0f, 0.1f}).reshape({1, 5});
  absl::StatusOr<QParams> qparams = ComputeWeightQParams(weight, args);
  ASSERT_TRUE(qparams.ok()) << qparams.status();
  EXPECT_EQ(qparams->scale.item<float>(), 2.0f);
  absl::StatusOr<torch::Tensor> fake = FakeQuantize(weight, *qparams, args);
  ASSERT_TRUE(fake.ok()) << fake.status();
  // 1.0625 -> 1 and 8.5 -> 8 (ties to even mantissa); 0.05 -> 26/512.
  EXPECT_EQ(Values(*fake), std::vector<float>({896, -896, 2.0f, 16.0f, 2 * 26.0f / 512}));
}

TEST(QuantizeDequantize, MatchFakeQuantizeAndSurvivePacking) {
  torch::manual_seed(11);
  torch::Tensor weight = torch::randn({8, 64}).to(torch::kBFloat16);
  for (bool symmetric : {true, false}) {
    for (int bits : {2, 3, 4, 8}) {
      const QuantizationArgs args = IntArgs(bits, symmetric, QuantizationStrategy::kGroup, 16);
      absl::StatusOr<QParams> qparams = ComputeWeightQParams(weight, args);
      ASSERT_TRUE(qparams.ok());
      absl::StatusOr<torch::Tensor> q = Quantize(weight, *qparams, args, torch::kChar);
      ASSERT_TRUE(q.ok()) << q.status();
      absl::StatusOr<torch::Tensor> packed = pack::PackToInt32(*q, bits);
      ASSERT_TRUE(packed.ok()) << packed.status();
      absl::StatusOr<torch::Tensor> unpacked = pack::UnpackFromInt32(*packed, bits, {8, 64});
      ASSERT_TRUE(unpacked.ok());
      absl::StatusOr<torch::Tensor> restored = Dequantize(*unpacked, *qparams, args);
      ASSERT_TRUE(restored.ok()) << restored.status();
      absl::StatusOr<torch::Tensor> fake = FakeQuantize(weight, *qparams, args);
      ASSERT_TRUE(fake.ok());
      EXPECT_EQ(restored->scalar_type(), torch::kBFloat16);
      EXPECT_TRUE(torch::equal(*restored, *fake)) << "bits " << bits << " symmetric " << symmetric;
      // Quantization error is bounded by one step per group.
      const float max_error = (*fake - weight).abs().max().to(torch::kFloat).item<float>();
      const float max_scale = qparams->scale.max().to(torch::kFloat).item<float>();
      EXPECT_LE(max_error, max_scale * 1.01f) << bits;
    }
  }
}

TEST(QuantizeErrors, Messages) {
  torch::Tensor weight = torch::ones({2, 6});
  EXPECT_EQ(ComputeWeightQParams(weight, IntArgs(4, true, QuantizationStrategy::kGroup, 0)).status().message(),
            "strategy group requires group_size to be set to a positive value");
  EXPECT_EQ(ComputeWeightQParams(weight, IntArgs(4, true, QuantizationStrategy::kChannel, 4)).status().message(),
            "group_size requires strategy to be set to 'group'");
  EXPECT_EQ(ComputeWeightQParams(weight, IntArgs(9, true)).status().code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<QParams> qparams = CalculateQParams(torch::zeros({2, 1}), torch::ones({2, 1}), IntArgs(4, true));
  ASSERT_TRUE(qparams.ok());
  EXPECT_EQ(FakeQuantize(weight, *qparams, IntArgs(4, true, QuantizationStrategy::kGroup, 4)).status().message(),
            "tensor column shape must be divisble by the given group_size 4 but got 6");
  EXPECT_EQ(ComputeWeightQParams(weight, IntArgs(4, true, QuantizationStrategy::kGroup, 8)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A mismatched scale shape is a LibTorch broadcasting error, reported as
  // a Status rather than an exception.
  QParams wrong{torch::ones({3, 1}), torch::zeros({3, 1}, torch::kChar)};
  absl::Status broadcast = FakeQuantize(weight, wrong, IntArgs(4, true, QuantizationStrategy::kChannel)).status();
  EXPECT_EQ(broadcast.code(), absl::StatusCode::kInternal);
  EXPECT_NE(broadcast.message().find("FakeQuantize"), std::string::npos) << broadcast;
}

}  // namespace
}  // namespace quantize
}  // namespace backend
}  // namespace wring
