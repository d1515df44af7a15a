// `wring check`: everything wring can tell about running a recipe on a model
// before any weights are loaded. Resolves the recipe's quantization schemes,
// AWQ mappings and SpinQuant mappings on the module tree exactly as
// llm-compressor would, and reports whether the run would succeed.
//
// This is the one entry point shared by the CLI and the WebAssembly
// validator, so both give the same report for the same input.
#ifndef WRING_MAPPING_CHECK_CHECK_H_
#define WRING_MAPPING_CHECK_CHECK_H_

#include "absl/status/statusor.h"
#include "mapping/model/model_input.h"
#include "mapping/proto/recipe.pb.h"
#include "mapping/proto/report.pb.h"

namespace wring {
namespace mapping {

// Exit statuses of `wring check` (also Verdict.exit_code).
inline constexpr int kExitWouldRun = 0;
inline constexpr int kExitWouldFail = 1;
inline constexpr int kExitUnusableInput = 2;

// Checks `recipe` (nullptr: wring's default AWQ + W4A16 recipe, the
// assumptions the mapping fixtures were made with) against `model`. Fused
// MoE experts are linearized first, as llm-compressor's oneshot does.
// Returns an error only for unusable input (an invalid or Python-only regex,
// an unknown preset, ...): the message names the problem and the fix.
// Everything llm-compressor itself would raise is part of the report.
absl::StatusOr<report::CheckReport> CheckRecipe(ModelInput model,
                                                const recipe::Recipe* recipe);

// The report for input wring cannot use (exit 2): the verdict carries the
// error, and its one diagnostic (severity "error", code "input") names the
// problem and, where the message gives one, the fix. `wring check --json`
// and the browser validator print it, so tools never parse stderr.
report::CheckReport UnusableInputReport(const absl::Status& error);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_CHECK_H_
