// Quantize / FakeQuantize of contiguous CPU weights by channel or group (the
// fused pass in internal/fused_quantize) against the same call on a
// transposed view of the same values, which takes the tensor operations:
// equal bit for bit.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/quantize/quantize.h"
#include "backend/testing/quantization_cases.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace quantize {
namespace {

using testing::IntArgs;
using testing::TestWeight;

// The same values through the tensor operations: a non-contiguous view.
torch::Tensor ByOperations(const torch::Tensor& w) { return w.t().contiguous().t(); }

TEST(FusedQuantize, EqualsTheTensorOperationsBitForBit) {
  int seed = 0;
  for (torch::Dtype dtype : {torch::kBFloat16, torch::kHalf, torch::kFloat}) {
    for (bool symmetric : {true, false}) {
      for (const QuantizationArgs& args :
           {IntArgs(4, symmetric, QuantizationStrategy::kGroup, 32), IntArgs(4, symmetric, QuantizationStrategy::kGroup, 128),
            IntArgs(8, symmetric, QuantizationStrategy::kChannel), IntArgs(2, symmetric, QuantizationStrategy::kGroup, 64)}) {
        const std::string what = absl::StrCat(std::string(c10::toString(dtype)), symmetric ? " symmetric" : " asymmetric",
                                              " int", args.num_bits, " group ", args.group_size);
        SCOPED_TRACE(what);
        const torch::Tensor w = TestWeight(67, 256, dtype, ++seed);
        const torch::Tensor view = ByOperations(w);
        ASSERT_FALSE(view.is_contiguous());
        absl::StatusOr<QParams> qparams = ComputeWeightQParams(w, args);
        ASSERT_TRUE(qparams.ok()) << qparams.status();
        std::vector<QParams> variants = {*qparams};
        if (symmetric) variants.push_back({qparams->scale, torch::Tensor()});  // no zero point at all
        for (const QParams& q : variants) {
          absl::StatusOr<torch::Tensor> fake = FakeQuantize(w, q, args), expected = FakeQuantize(view, q, args);
          ASSERT_TRUE(fake.ok() && expected.ok());
          ASSERT_EQ(fake->scalar_type(), dtype);
          EXPECT_TRUE(torch::equal(*fake, *expected));
          EXPECT_FALSE(torch::equal(*fake, w));  // a real quantization
          for (std::optional<torch::Dtype> out : {std::optional<torch::Dtype>(torch::kChar), std::optional<torch::Dtype>()}) {
            absl::StatusOr<torch::Tensor> levels = Quantize(w, q, args, out), expected_levels = Quantize(view, q, args, out);
            ASSERT_TRUE(levels.ok() && expected_levels.ok());
            ASSERT_EQ(levels->scalar_type(), expected_levels->scalar_type());
            EXPECT_TRUE(torch::equal(*levels, *expected_levels));
          }
        }
      }
    }
  }
}

// Scales of another dtype than the weight's round x / scale differently:
// those calls keep the tensor operations (and so agree with the view).
TEST(FusedQuantize, ScalesOfAnotherDtypeTakeTheTensorOperations) {
  const QuantizationArgs args = IntArgs(4, true, QuantizationStrategy::kGroup, 64);
  const torch::Tensor w = TestWeight(16, 128, torch::kBFloat16, 40);
  absl::StatusOr<QParams> qparams = ComputeWeightQParams(w, args);
  ASSERT_TRUE(qparams.ok());
  const QParams float_scales{qparams->scale.to(torch::kFloat), qparams->zero_point};
  absl::StatusOr<torch::Tensor> fake = FakeQuantize(w, float_scales, args);
  absl::StatusOr<torch::Tensor> expected = FakeQuantize(ByOperations(w), float_scales, args);
  ASSERT_TRUE(fake.ok() && expected.ok());
  EXPECT_TRUE(torch::equal(*fake, *expected));
}

}  // namespace
}  // namespace quantize
}  // namespace backend
}  // namespace wring
