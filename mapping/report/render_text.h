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

std::string RenderReportText(const report::CheckReport& report);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_REPORT_RENDER_TEXT_H_
