// Fuzzes the model.safetensors.index.json parser (mapping/model/safetensors.h)
// and the names-only model built from an index (mapping/model/model_text.h),
// then checks wring's default recipe on it, as `wring check --model
// model.safetensors.index.json` would without the shards.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/internal/check_model.h"
#include "fuzz/internal/fuzz_check.h"
#include "mapping/base/json.h"
#include "mapping/model/model_text.h"
#include "mapping/model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr char kSource[] = "model.safetensors.index.json";
  absl::StatusOr<wring::mapping::Json> document = wring::mapping::ParseJson(text, kSource);
  if (!document.ok() || !wring::mapping::IsSafetensorsIndex(*document)) return 0;
  absl::StatusOr<wring::mapping::SafetensorsIndex> index =
      wring::mapping::ParseSafetensorsIndex(*document, kSource);
  if (!index.ok()) {
    WRING_FUZZ_CHECK(absl::StrContains(index.status().message(), kSource),
                     "an index error names the file");
    return 0;
  }
  WRING_FUZZ_CHECK(!index->weight_map.empty(), "an accepted index lists tensors");
  absl::flat_hash_set<std::string> shards(index->shards.begin(), index->shards.end());
  WRING_FUZZ_CHECK(shards.size() == index->shards.size(), "shards are listed once");
  for (const auto& [tensor, shard] : index->weight_map) {
    WRING_FUZZ_CHECK(!shard.empty() && shards.contains(shard), "every shard is listed");
  }
  absl::StatusOr<wring::mapping::ModelInput> model =
      wring::mapping::ModelFromText(text, kSource);
  if (model.ok()) wring::fuzz::CheckAndRender(*std::move(model));
  return 0;
}
