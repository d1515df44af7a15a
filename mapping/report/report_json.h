// The check report's JSON form, the contract the web page and CI read:
// protobuf's JSON mapping with the .proto field names kept.
#ifndef WRING_MAPPING_REPORT_REPORT_JSON_H_
#define WRING_MAPPING_REPORT_REPORT_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/proto/report.pb.h"

namespace wring {
namespace mapping {

std::string ReportToJson(const report::CheckReport& report);
absl::StatusOr<report::CheckReport> ReportFromJson(absl::string_view json);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_REPORT_REPORT_JSON_H_
