#include "backend/job/quality_report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/pipeline/progress.h"

namespace wring {
namespace backend {
namespace job {

QualityReport BuildQualityReport(const pipeline::CalibrationResult& result,
                                 const pipeline::CompressionPlan& plan, double elapsed_seconds) {
  QualityReport report;
  mapping::Json layers = mapping::Json::array();
  for (const pipeline::LayerQuality& layer : result.layers) {
    mapping::Json linears = mapping::Json::array();
    for (const pipeline::LinearQuality& linear : layer.linears) {
      linears.push_back({{"name", linear.name}, {"weight_relative_error", linear.weight_relative_error}});
    }
    layers.push_back({{"layer", layer.layer},
                      {"output_relative_error", layer.output_relative_error},
                      {"accumulated_relative_error", layer.accumulated_relative_error},
                      {"seconds", layer.seconds},
                      {"linears", std::move(linears)}});
  }
  mapping::Json perplexity = mapping::Json::object();
  if (result.evaluation_tokens > 0) {
    perplexity = {{"original", result.original_perplexity},
                  {"compressed", result.compressed_perplexity},
                  {"tokens", result.evaluation_tokens}};
  }
  report.json = {{"quantized_linear_layers", plan.linears.size()},
                 {"kv_cache_modules", plan.kv_cache.size()},
                 {"elapsed_seconds", elapsed_seconds},
                 {"perplexity", std::move(perplexity)},
                 {"layers", std::move(layers)}};
  for (const pipeline::ModifierReport& modifier : result.modifiers) {
    report.json[modifier.json_key] = modifier.json;
  }

  std::string& text = report.text;
  absl::StrAppend(&text, "Quality (evaluation samples held out from calibration)\n");
  if (result.evaluation_tokens > 0) {
    absl::StrAppendFormat(&text, "  perplexity: original %.4g, compressed %.4g (%+.2f%%) over %d tokens\n",
                          result.original_perplexity, result.compressed_perplexity,
                          100.0 * (result.compressed_perplexity / result.original_perplexity - 1.0),
                          result.evaluation_tokens);
    absl::StrAppend(&text, "  layer  own output error  accumulated  worst weight error\n");
    for (const pipeline::LayerQuality& layer : result.layers) {
      double worst = 0;
      std::string worst_name = "-";
      for (const auto& linear : layer.linears) {
        if (linear.weight_relative_error >= worst) {
          worst = linear.weight_relative_error;
          worst_name = linear.name.substr(linear.name.rfind('.', linear.name.rfind('.') - 1) + 1);
        }
      }
      absl::StrAppendFormat(&text, "  %5d  %16.3e  %11.3e  %.3e (%s)\n", layer.layer,
                            layer.output_relative_error, layer.accumulated_relative_error, worst,
                            worst_name);
    }
  } else {
    absl::StrAppend(&text,
                    "  no evaluation samples (--eval-samples 0, or the dataset had no samples "
                    "left after calibration): errors not measured\n");
  }
  for (const pipeline::ModifierReport& modifier : result.modifiers) {
    absl::StrAppend(&text, modifier.text);
  }
  absl::StrAppend(&text, "  elapsed ", pipeline::Progress::FormatDuration(elapsed_seconds), "\n");
  return report;
}

}  // namespace job
}  // namespace backend
}  // namespace wring
