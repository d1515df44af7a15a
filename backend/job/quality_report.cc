#include "backend/job/quality_report.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/pipeline/progress.h"

namespace wring {
namespace backend {
namespace job {
namespace {

// printf would show a NaN as "-nan" or "nan" depending on its sign bit and
// libc; the report says NaN, and inf with its sign.
std::string NonFiniteText(double value) {
  if (std::isnan(value)) return "NaN";
  return value > 0 ? "inf" : "-inf";
}

std::string Scientific(double value) {
  return std::isfinite(value) ? absl::StrFormat("%.3e", value) : NonFiniteText(value);
}

std::string General(double value) {
  return std::isfinite(value) ? absl::StrFormat("%.4g", value) : NonFiniteText(value);
}

std::string PercentChange(double from, double to) {
  const double change = 100.0 * (to / from - 1.0);
  return std::isfinite(change) ? absl::StrFormat("%+.2f%%", change) : NonFiniteText(change);
}

// JSON has no NaN or infinity: such a value is written as null, never as
// a number.
mapping::Json Number(double value) { return std::isfinite(value) ? mapping::Json(value) : mapping::Json(); }

}  // namespace

QualityReport BuildQualityReport(const pipeline::CalibrationResult& result,
                                 const pipeline::CompressionPlan& plan, double elapsed_seconds) {
  QualityReport report;
  mapping::Json layers = mapping::Json::array();
  for (const pipeline::LayerQuality& layer : result.layers) {
    mapping::Json linears = mapping::Json::array();
    for (const pipeline::LinearQuality& linear : layer.linears) {
      linears.push_back({{"name", linear.name}, {"weight_relative_error", Number(linear.weight_relative_error)}});
    }
    layers.push_back({{"layer", layer.layer},
                      {"output_relative_error", Number(layer.output_relative_error)},
                      {"accumulated_relative_error", Number(layer.accumulated_relative_error)},
                      {"seconds", layer.seconds},
                      {"linears", std::move(linears)}});
  }
  mapping::Json perplexity = mapping::Json::object();
  if (result.evaluation_tokens > 0) {
    perplexity = {{"original", Number(result.original_perplexity)},
                  {"compressed", Number(result.compressed_perplexity)},
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
    absl::StrAppendFormat(&text, "  perplexity: original %s, compressed %s (%s) over %d tokens\n",
                          General(result.original_perplexity), General(result.compressed_perplexity),
                          PercentChange(result.original_perplexity, result.compressed_perplexity),
                          result.evaluation_tokens);
    absl::StrAppend(&text, "  layer  own output error  accumulated  worst weight error\n");
    for (const pipeline::LayerQuality& layer : result.layers) {
      double worst = 0;
      std::string worst_name = "-";
      for (const auto& linear : layer.linears) {
        // A NaN ranks worst: the plain comparison would skip it.
        if (std::isnan(worst)) break;
        if (std::isnan(linear.weight_relative_error) || linear.weight_relative_error >= worst) {
          worst = linear.weight_relative_error;
          worst_name = linear.name.substr(linear.name.rfind('.', linear.name.rfind('.') - 1) + 1);
        }
      }
      absl::StrAppendFormat(&text, "  %5d  %16s  %11s  %s (%s)\n", layer.layer,
                            Scientific(layer.output_relative_error),
                            Scientific(layer.accumulated_relative_error), Scientific(worst), worst_name);
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
