#include "backend/job/quality_report.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace job {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

pipeline::CalibrationResult Result(double compressed_perplexity, double layer_error, double weight_error) {
  pipeline::CalibrationResult result;
  result.original_perplexity = 20.5;
  result.compressed_perplexity = compressed_perplexity;
  result.evaluation_tokens = 100;
  pipeline::LayerQuality layer;
  layer.output_relative_error = layer_error;
  layer.accumulated_relative_error = layer_error;
  layer.linears = {{"model.layers.0.self_attn.q_proj", 1e-3},
                   {"model.layers.0.self_attn.k_proj", weight_error},
                   {"model.layers.0.self_attn.v_proj", 2e-3}};
  result.layers.push_back(layer);
  return result;
}

TEST(QualityReport, FiniteNumbers) {
  const QualityReport report = BuildQualityReport(Result(21.0, 1.5e-4, 3e-3), {}, 1);
  EXPECT_NE(report.text.find("perplexity: original 20.5, compressed 21 (+2.44%) over 100 tokens"),
            std::string::npos)
      << report.text;
  EXPECT_NE(report.text.find("1.500e-04"), std::string::npos) << report.text;
  EXPECT_NE(report.text.find("3.000e-03 (self_attn.k_proj)"), std::string::npos) << report.text;
}

TEST(QualityReport, NaNSaysNaNNeverANumber) {
  const QualityReport report = BuildQualityReport(Result(kNaN, kNaN, kNaN), {}, 1);
  EXPECT_NE(report.text.find("compressed NaN (NaN)"), std::string::npos) << report.text;
  EXPECT_NE(report.text.find("NaN (self_attn.k_proj)"), std::string::npos) << report.text;
  EXPECT_EQ(report.text.find("nan"), std::string::npos) << report.text;
  EXPECT_EQ(report.text.find("0.000e+00"), std::string::npos) << report.text;
  // JSON has no NaN: the value is null.
  EXPECT_TRUE(report.json["perplexity"]["compressed"].is_null()) << report.json.dump();
}

TEST(QualityReport, InfinityKeepsItsSign) {
  const QualityReport report =
      BuildQualityReport(Result(std::numeric_limits<double>::infinity(), 0, 0), {}, 1);
  EXPECT_NE(report.text.find("compressed inf (inf)"), std::string::npos) << report.text;
}

}  // namespace
}  // namespace job
}  // namespace backend
}  // namespace wring
