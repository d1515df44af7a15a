// Fuzzes the module-dump reader (mapping/model/fixture_format.h: JSON with
// `modules`, `params`, `config`), then checks wring's default recipe on each
// dump it accepts, as `wring check --model dump.json` would.
#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/internal/check_model.h"
#include "fuzz/internal/fuzz_check.h"
#include "mapping/base/json.h"
#include "mapping/model/fixture_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<wring::mapping::Json> document = wring::mapping::ParseJson(text, "dump.json");
  if (!document.ok() || !wring::mapping::IsModuleDump(*document)) return 0;
  absl::StatusOr<wring::mapping::ModelInput> model =
      wring::mapping::ModelFromModuleDump(*document, "dump.json");
  if (!model.ok()) {
    WRING_FUZZ_CHECK(absl::StrContains(model.status().message(), "dump.json"),
                     "a module-dump error names the file");
    return 0;
  }
  wring::fuzz::CheckAndRender(*std::move(model));
  return 0;
}
