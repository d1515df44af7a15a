#include "mapping/report/report_json.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace wring {
namespace mapping {

std::string ReportToJson(const report::CheckReport& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  // Empty lists and zero counts are part of the contract: print them.
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(report, &out, options);
  if (!status.ok()) {
    // Only reachable with invalid UTF-8 in a module name; keep the output
    // valid JSON and say what happened.
    return absl::StrCat("{\"error\": \"could not serialise the report: ",
                        std::string(status.message().data(), status.message().size()),
                        "\"}\n");
  }
  return out;
}

absl::StatusOr<report::CheckReport> ReportFromJson(absl::string_view json) {
  report::CheckReport report;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &report, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a wring check report: ",
                     std::string(status.message().data(), status.message().size())));
  }
  return report;
}

}  // namespace mapping
}  // namespace wring
