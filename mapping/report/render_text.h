// The human-readable form of a check report: the verdict first, then per
// mapping its resolution compressed across decoder layers, skips, the error
// llm-compressor would raise with an explanation and fix, and quantization
// coverage.
#ifndef WRING_MAPPING_REPORT_RENDER_TEXT_H_
#define WRING_MAPPING_REPORT_RENDER_TEXT_H_

#include <string>

#include "mapping/proto/report.pb.h"

namespace wring {
namespace mapping {

struct RenderOptions {
  enum class Detail {
    kErrors,   // only error diagnostics
    kDefault,  // every diagnostic and the resolution summaries
    kInfo,     // also what llm-compressor logs at INFO and WARNING
    kDebug,    // also its DEBUG lines: every AWQ mapping skipped as incompatible
  };
  Detail detail = Detail::kDefault;
};

std::string RenderReportText(const report::CheckReport& report,
                             const RenderOptions& options = {});

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_REPORT_RENDER_TEXT_H_
