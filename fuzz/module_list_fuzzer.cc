// Fuzzes the module-list reader (mapping/model/module_list.h: one
// `NAME [CLASS [IN OUT]]` per line), then checks wring's default recipe on
// each list it accepts, as `wring check --model modules.txt` would.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/internal/check_model.h"
#include "fuzz/internal/fuzz_check.h"
#include "mapping/model/module_list.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<wring::mapping::ModelInput> model =
      wring::mapping::ModelFromModuleList(text, "modules.txt", "LlamaForCausalLM");
  if (!model.ok()) {
    WRING_FUZZ_CHECK(absl::StrContains(model.status().message(), "modules.txt"),
                     "a module-list error names the file");
    return 0;
  }
  WRING_FUZZ_CHECK(model->source_kind == "module-list", "the source kind is recorded");
  wring::fuzz::CheckAndRender(*std::move(model));
  return 0;
}
