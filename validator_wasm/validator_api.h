// The string-in, string-out API of the browser validator: `wring check` for
// text a web page already holds (pasted or read with Blob.slice). The
// WebAssembly module (bindings.cc) exposes exactly these functions; they are
// compiled natively too, so tests can compare both builds byte for byte.
//
// Every check function returns the report JSON of `wring check --json`.
// Input wring cannot use never aborts: it gives a report whose verdict has
// exit_code 2 and whose one diagnostic (severity "error", code "input")
// names the problem.
#ifndef WRING_VALIDATOR_WASM_VALIDATOR_API_H_
#define WRING_VALIDATOR_WASM_VALIDATOR_API_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace mapping {
namespace validator {

// `model`: a module dump JSON, a module list (one named_modules() name per
// line), model.safetensors.index.json, or a config.json. Empty `model` with a
// config.json in `config`: the model is built from the config (known
// architectures only). `config` may be empty; `recipe` (YAML or JSON) empty
// means wring's default recipe.
std::string Check(absl::string_view model, absl::string_view config, absl::string_view recipe);

// `headers`: a JSON array of {"name": shard file name, "header": the JSON text
// after the 8-byte length, "size": the shard's size in bytes}, i.e. what a
// page reads from the start of each .safetensors file.
std::string CheckSafetensors(absl::string_view headers, absl::string_view config,
                             absl::string_view recipe);

// Where a check's time goes, for benchmarks: reading the model input,
// resolution (CheckRecipe: linearization, schemes, AWQ, SpinQuant) and
// writing the JSON report.
struct CheckTimings {
  double read_model_ms = 0;
  double resolve_ms = 0;
  double report_ms = 0;
  double total_ms = 0;
  int modules = 0;
  int resolved_awq_mappings = 0;
  int exit_code = 2;
};
// Runs Check() and returns its timings instead of the report.
CheckTimings ProfileCheck(absl::string_view model, absl::string_view config,
                          absl::string_view recipe);
std::string CheckTimingsToJson(const CheckTimings& timings);

// The recipe used when none is given (YAML).
std::string DefaultRecipe();
// Architectures whose module tree wring builds from config.json alone: a JSON
// array of class names.
std::string KnownArchitecturesJson();
// wring's version.
std::string Version();

// The exit-code-2 report for `error` (exposed for tests).
std::string UnusableInputReport(const absl::Status& error);

}  // namespace validator
}  // namespace mapping
}  // namespace wring

#endif  // WRING_VALIDATOR_WASM_VALIDATOR_API_H_
