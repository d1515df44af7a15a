// Fuzzes the safetensors header parser (mapping/model/safetensors.h) on whole
// files, asserts what its validation promises about every header it accepts
// (the tensors tile the data section exactly, sizes match the shapes), and
// checks wring's default recipe on the model the tensor names describe, as
// `wring check --model model.safetensors` would.
#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/internal/check_model.h"
#include "fuzz/internal/fuzz_check.h"
#include "mapping/base/json.h"
#include "mapping/model/model_text.h"
#include "mapping/model/safetensors.h"

namespace {

using wring::mapping::SafetensorsHeader;
using wring::mapping::SafetensorsTensor;

void CheckValidated(const SafetensorsHeader& header, uint64_t file_size) {
  WRING_FUZZ_CHECK(header.header_length <= file_size - 8, "the header fits in the file");
  const uint64_t data_size = file_size - 8 - header.header_length;
  uint64_t covered = 0;
  for (const SafetensorsTensor& t : header.tensors) {
    WRING_FUZZ_CHECK(t.begin <= t.end && t.end <= data_size, "offsets lie in the data section");
    covered += t.end - t.begin;
    const int bits = wring::mapping::SafetensorsDtypeBits(t.dtype);
    WRING_FUZZ_CHECK(bits > 0, "only known dtypes are accepted");
    // numel * bits == 8 * (end - begin), computed without overflow: unless
    // a dimension is 0, the byte count bounds every dimension.
    bool empty = false;
    for (int64_t d : t.shape) {
      WRING_FUZZ_CHECK(d >= 0, "dimensions are non-negative");
      empty = empty || d == 0;
    }
    uint64_t bits_total = empty ? 0 : static_cast<uint64_t>(bits);
    for (int64_t d : t.shape) {
      if (empty) break;
      WRING_FUZZ_CHECK(static_cast<uint64_t>(d) <= (t.end - t.begin) * 8 / bits_total,
                       "a dimension fits in the tensor's bytes");
      bits_total *= static_cast<uint64_t>(d);
    }
    WRING_FUZZ_CHECK(bits_total == (t.end - t.begin) * 8, "the bytes hold exactly the shape");
  }
  WRING_FUZZ_CHECK(covered == data_size, "the tensors tile the data section");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<SafetensorsHeader> header =
      wring::mapping::ParseSafetensorsHeader(bytes, size, "model.safetensors");
  if (!header.ok()) {
    WRING_FUZZ_CHECK(absl::StrContains(header.status().message(), "model.safetensors"),
                     "a header error names the file");
    return 0;
  }
  CheckValidated(*header, size);
  // The browser reads only the first 8 + N bytes and passes the file's size.
  absl::StatusOr<SafetensorsHeader> prefix_only = wring::mapping::ParseSafetensorsHeader(
      bytes.substr(0, 8 + header->header_length), size, "model.safetensors");
  WRING_FUZZ_CHECK(prefix_only.ok() && prefix_only->tensors.size() == header->tensors.size(),
                   "the header alone gives the same answer");
  absl::StatusOr<wring::mapping::ModelInput> model = wring::mapping::ModelFromSafetensorsHeaders(
      {*header}, wring::mapping::Json::object(), "model.safetensors");
  if (model.ok()) wring::fuzz::CheckAndRender(*std::move(model));
  return 0;
}
