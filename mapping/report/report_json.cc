#include "mapping/report/report_json.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace wring {
namespace mapping {

std::string ReportToJson(const report::CheckReport& report) {
  namespace pb = google::protobuf;
  // Through the binary form with deterministic serialization: protobuf maps
  // (SpinQuantReport.fields) otherwise print in a per-instance hash order,
  // and the same input must give the same bytes in every run, natively and
  // in WebAssembly.
  std::string binary;
  {
    pb::io::StringOutputStream stream(&binary);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    report.SerializeToCodedStream(&coded);
  }
  static pb::util::TypeResolver* const resolver = pb::util::NewTypeResolverForDescriptorPool(
      "type.googleapis.com", pb::DescriptorPool::generated_pool());
  pb::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  // Empty lists and zero counts are part of the contract: print them.
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = pb::util::BinaryToJsonString(
      resolver, "type.googleapis.com/" + report.GetDescriptor()->full_name(), binary, &out,
      options);
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
