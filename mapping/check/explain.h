// Turns the errors llm-compressor would raise into diagnostics a user can
// act on: the upstream message verbatim, why it happens on this model, and
// a concrete fix (often a corrected pattern).
#ifndef WRING_MAPPING_CHECK_EXPLAIN_H_
#define WRING_MAPPING_CHECK_EXPLAIN_H_

#include <string>
#include <vector>

#include "mapping/awq/awq_mapping.h"
#include "mapping/awq/resolve.h"
#include "mapping/proto/report.pb.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {

report::Diagnostic MakeDiagnostic(absl::string_view severity, absl::string_view code,
                                  absl::string_view message, absl::string_view explanation = "",
                                  absl::string_view fix = "");

// The diagnostic for AwqResolution::error raised while resolving `mapping`.
report::Diagnostic ExplainAwqError(const ModuleTree& tree, const AwqMapping& mapping,
                                   const std::string& error);

// A pattern like "re:.*v_proj$" restricted to the modules under `prefix`
// ("model.language_model.layers."): "re:model\.language_model\.layers\..*v_proj$".
std::string RestrictPatternToPrefix(absl::string_view pattern, absl::string_view prefix);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_EXPLAIN_H_
