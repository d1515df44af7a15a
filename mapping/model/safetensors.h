// Reads what a checkpoint says about its tensors without reading the tensors:
// the header of a .safetensors file and a sharded model's
// model.safetensors.index.json.
//
// A safetensors file is `N` (u64, little-endian), N bytes of JSON, then the
// data section. The JSON maps each tensor name to {dtype, shape,
// data_offsets: [begin, end]} (offsets relative to the data section), plus an
// optional "__metadata__" object of string -> string. Validation follows the
// safetensors library, which refuses to load a file that breaks any of:
// header length within the file and at most 100,000,000 bytes, a JSON object
// starting with '{', known dtypes, offsets that tile the data section
// exactly (no overlap, no gap, nothing past the end), and
// end - begin == numel * itemsize.
#ifndef WRING_MAPPING_MODEL_SAFETENSORS_H_
#define WRING_MAPPING_MODEL_SAFETENSORS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/base/json.h"

namespace wring {
namespace mapping {

// The safetensors library's own cap on the header length.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100000000;

struct SafetensorsTensor {
  std::string name;
  std::string dtype;  // as written: "BF16", "F8_E4M3", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // data_offsets, relative to the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsTensor> tensors;  // in the header's key order
  std::vector<std::pair<std::string, std::string>> metadata;
  uint64_t header_length = 0;  // N
};

// Reads N from the first 8 bytes and checks it against `file_size` and the
// cap. `prefix` may be longer than 8 bytes.
absl::StatusOr<uint64_t> SafetensorsHeaderLength(absl::string_view prefix, uint64_t file_size,
                                                 absl::string_view source);

// Parses and validates the header. `prefix` holds the file's first
// 8 + N bytes (or more); `file_size` is the whole file's size, against which
// the data offsets are checked. `source` names the file in messages.
absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::string_view prefix,
                                                         uint64_t file_size,
                                                         absl::string_view source);

// Bytes per element of a safetensors dtype, in bits (F4 is 4, F6_* is 6);
// 0 for an unknown dtype.
int SafetensorsDtypeBits(absl::string_view dtype);

// model.safetensors.index.json: {"metadata": {...}, "weight_map": {tensor: shard}}.
struct SafetensorsIndex {
  std::vector<std::pair<std::string, std::string>> weight_map;  // in file order
  std::vector<std::string> shards;  // distinct shard file names, first-seen order
};

// True when `document` looks like an index (an object with "weight_map").
bool IsSafetensorsIndex(const Json& document);

absl::StatusOr<SafetensorsIndex> ParseSafetensorsIndex(const Json& document,
                                                       absl::string_view source);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MODEL_SAFETENSORS_H_
