// Fuzzes config.json -> module tree (mapping/archs) for the architectures
// wring knows, then checks wring's default recipe on each model it builds,
// as `wring check --config config.json` would.
#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/internal/check_model.h"
#include "fuzz/internal/fuzz_check.h"
#include "mapping/archs/architectures.h"
#include "mapping/base/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<wring::mapping::Json> config = wring::mapping::ParseJson(text, "config.json");
  if (!config.ok()) return 0;
  (void)wring::mapping::IsModelConfig(*config);
  absl::StatusOr<wring::mapping::ModelInput> model =
      wring::mapping::ModelFromConfig(*config, "config.json");
  if (!model.ok()) {
    WRING_FUZZ_CHECK(absl::StrContains(model.status().message(), "config.json"),
                     "a config error names the file");
    return 0;
  }
  WRING_FUZZ_CHECK(wring::mapping::IsKnownArchitecture(model->architecture),
                   "only known architectures build a model");
  wring::fuzz::CheckAndRender(*std::move(model));
  return 0;
}
