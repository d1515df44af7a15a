#include "mapping/model/safetensors.h"

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace mapping {
namespace {

constexpr absl::string_view kResave =
    "the file is damaged or was not written by a safetensors writer; re-download or re-save it";

absl::Status HeaderError(absl::string_view source, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": safetensors header: ", problem));
}

absl::Status TensorError(absl::string_view source, absl::string_view tensor,
                         absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": safetensors header: tensor \"", tensor, "\": ", problem));
}

// A JSON integer that is >= 0 and fits in int64 (so in size_t on wasm32
// after the range checks below).
bool AsNonNegative(const Json& value, uint64_t* out) {
  if (value.is_number_unsigned()) {
    *out = value.get<uint64_t>();
    return *out <= static_cast<uint64_t>(INT64_MAX);
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0) return false;
    *out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::StatusOr<SafetensorsTensor> ParseTensor(const std::string& name, const Json& entry,
                                              uint64_t data_size, absl::string_view source) {
  if (!entry.is_object()) {
    return TensorError(source, name,
                       absl::StrCat("expected an object {dtype, shape, data_offsets}, got ",
                                    JsonTypeName(entry), "; ", kResave));
  }
  SafetensorsTensor tensor;
  tensor.name = name;
  absl::optional<std::string> dtype = JsonString(entry, "dtype");
  if (!dtype.has_value()) {
    return TensorError(source, name, absl::StrCat("missing string field \"dtype\"; ", kResave));
  }
  int bits = SafetensorsDtypeBits(*dtype);
  if (bits == 0) {
    return TensorError(
        source, name,
        absl::StrCat("unknown dtype \"", *dtype,
                     "\" (known: BOOL U8 I8 U16 I16 U32 I32 U64 I64 F16 BF16 F32 F64 C64 "
                     "F8_E4M3 F8_E5M2 F8_E8M0 F6_E2M3 F6_E3M2 F4); ",
                     "use a safetensors writer's dtype names"));
  }
  tensor.dtype = *dtype;
  const Json* shape = JsonMember(entry, "shape");
  if (shape == nullptr || !shape->is_array()) {
    return TensorError(source, name,
                       absl::StrCat("missing list field \"shape\"; ", kResave));
  }
  // numel * bits; past 2^62 bits (far beyond any file) it is "too big" and
  // stops growing, so huge dims cannot overflow.
  constexpr uint64_t cap_bits = uint64_t{1} << 62;
  uint64_t total_bits = static_cast<uint64_t>(bits);
  bool too_big = false;
  for (const Json& dim : *shape) {
    uint64_t d = 0;
    if (!AsNonNegative(dim, &d)) {
      return TensorError(source, name,
                         absl::StrCat("shape entries must be non-negative integers, got ",
                                      dim.dump(), "; ", kResave));
    }
    tensor.shape.push_back(static_cast<int64_t>(d));
    if (d == 0) {
      total_bits = 0;
      too_big = false;
    } else if (!too_big && total_bits > cap_bits / d) {
      too_big = true;
    } else if (!too_big) {
      total_bits *= d;
    }
  }
  const Json* offsets = JsonMember(entry, "data_offsets");
  uint64_t begin = 0, end = 0;
  if (offsets == nullptr || !offsets->is_array() || offsets->size() != 2 ||
      !AsNonNegative((*offsets)[0], &begin) || !AsNonNegative((*offsets)[1], &end)) {
    return TensorError(source, name,
                       absl::StrCat("\"data_offsets\" must be [begin, end] with non-negative "
                                    "integers; ",
                                    kResave));
  }
  if (begin > end) {
    return TensorError(source, name,
                       absl::StrCat("data_offsets [", begin, ", ", end,
                                    "] end before they begin; ", kResave));
  }
  if (end > data_size) {
    return TensorError(source, name,
                       absl::StrCat("data_offsets [", begin, ", ", end,
                                    "] are out of range: the data section holds ", data_size,
                                    " bytes (the file is truncated or the header is wrong); ",
                                    kResave));
  }
  tensor.begin = begin;
  tensor.end = end;
  if (!too_big && total_bits % 8 != 0) {
    return TensorError(source, name,
                       absl::StrCat("shape ", ShapeString(tensor.shape), " of ", tensor.dtype,
                                    " is not a whole number of bytes; ", kResave));
  }
  if (too_big || total_bits / 8 != end - begin) {
    std::string needed =
        too_big ? std::string("more than 2^59") : absl::StrCat(total_bits / 8);
    return TensorError(source, name,
                       absl::StrCat("numel mismatch: shape ", ShapeString(tensor.shape), " of ",
                                    tensor.dtype, " needs ", needed, " bytes but data_offsets [",
                                    begin, ", ", end, "] hold ", end - begin, "; ", kResave));
  }
  return tensor;
}

// Every byte of the data section belongs to exactly one tensor.
absl::Status CheckTiling(const std::vector<SafetensorsTensor>& tensors, uint64_t data_size,
                         absl::string_view source) {
  std::vector<const SafetensorsTensor*> sorted;
  sorted.reserve(tensors.size());
  for (const SafetensorsTensor& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const SafetensorsTensor* a, const SafetensorsTensor* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t cursor = 0;
  const SafetensorsTensor* previous = nullptr;
  for (const SafetensorsTensor* t : sorted) {
    if (t->begin < cursor) {
      return TensorError(source, t->name,
                         absl::StrCat("data_offsets [", t->begin, ", ", t->end,
                                      "] overlap tensor \"", previous->name, "\" [",
                                      previous->begin, ", ", previous->end, "]; ", kResave));
    }
    if (t->begin > cursor) {
      return TensorError(
          source, t->name,
          absl::StrCat("data_offsets [", t->begin, ", ", t->end, "] leave a gap of ",
                       t->begin - cursor, " bytes after ",
                       previous == nullptr ? std::string("the start of the data section")
                                           : absl::StrCat("tensor \"", previous->name, "\""),
                       " (safetensors refuses such files); ", kResave));
    }
    cursor = t->end;
    previous = t;
  }
  if (cursor != data_size) {
    return HeaderError(source, absl::StrCat("the tensors cover ", cursor,
                                            " bytes but the data section holds ", data_size,
                                            " (trailing bytes after the last tensor); ",
                                            kResave));
  }
  return absl::OkStatus();
}

}  // namespace

int SafetensorsDtypeBits(absl::string_view dtype) {
  struct Entry {
    absl::string_view name;
    int bits;
  };
  static constexpr Entry kDtypes[] = {
      {"BOOL", 8},     {"U8", 8},       {"I8", 8},       {"U16", 16},   {"I16", 16},
      {"F16", 16},     {"BF16", 16},    {"U32", 32},     {"I32", 32},   {"F32", 32},
      {"U64", 64},     {"I64", 64},     {"F64", 64},     {"C64", 64},   {"F8_E4M3", 8},
      {"F8_E5M2", 8},  {"F8_E8M0", 8},  {"F6_E2M3", 6},  {"F6_E3M2", 6}, {"F4", 4},
  };
  for (const Entry& e : kDtypes) {
    if (e.name == dtype) return e.bits;
  }
  return 0;
}

absl::StatusOr<uint64_t> SafetensorsHeaderLength(absl::string_view prefix, uint64_t file_size,
                                                 absl::string_view source) {
  if (prefix.size() < 8 || file_size < 8) {
    return HeaderError(source, absl::StrCat("the file is ", std::min<uint64_t>(prefix.size(), file_size),
                                            " bytes, too short for the 8-byte header length "
                                            "(truncated, or not a .safetensors file)"));
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(prefix[i]);
  if (n > kMaxSafetensorsHeaderBytes) {
    return HeaderError(source, absl::StrCat("header length ", n, " bytes exceeds the limit of ",
                                            kMaxSafetensorsHeaderBytes,
                                            " (not a .safetensors file, or corrupted)"));
  }
  if (n > file_size - 8) {
    return HeaderError(source, absl::StrCat("header length ", n, " bytes is larger than the file (",
                                            file_size,
                                            " bytes): the file is truncated or not safetensors; "
                                            "re-download it"));
  }
  return n;
}

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::string_view prefix,
                                                         uint64_t file_size,
                                                         absl::string_view source) {
  WRING_ASSIGN_OR_RETURN(uint64_t n, SafetensorsHeaderLength(prefix, file_size, source));
  if (prefix.size() - 8 < n) {
    return HeaderError(source, absl::StrCat("only ", prefix.size() - 8, " of the header's ", n,
                                            " bytes are available (truncated read)"));
  }
  absl::string_view text = prefix.substr(8, n);
  if (text.empty() || text[0] != '{') {
    return HeaderError(source, absl::StrCat("the header must be a JSON object starting with '{'; ",
                                            "this is not a .safetensors file"));
  }
  WRING_ASSIGN_OR_RETURN(Json document, ParseJson(text, source));
  if (!document.is_object()) {
    return HeaderError(source, absl::StrCat("expected a JSON object of tensors, got ",
                                            JsonTypeName(document), "; ", kResave));
  }
  SafetensorsHeader header;
  header.header_length = n;
  uint64_t data_size = file_size - 8 - n;
  for (auto it = document.begin(); it != document.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) {
        return HeaderError(source, absl::StrCat("\"__metadata__\" must be an object of strings, got ",
                                                JsonTypeName(it.value()), "; ", kResave));
      }
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) {
          return HeaderError(source, absl::StrCat("\"__metadata__\".\"", m.key(),
                                                  "\" must be a string, got ",
                                                  JsonTypeName(m.value()), "; ", kResave));
        }
        header.metadata.emplace_back(m.key(), m.value().get_ref<const std::string&>());
      }
      continue;
    }
    WRING_ASSIGN_OR_RETURN(SafetensorsTensor tensor,
                           ParseTensor(it.key(), it.value(), data_size, source));
    header.tensors.push_back(std::move(tensor));
  }
  WRING_RETURN_IF_ERROR(CheckTiling(header.tensors, data_size, source));
  return header;
}

bool IsSafetensorsIndex(const Json& document) {
  return document.is_object() && JsonMember(document, "weight_map") != nullptr;
}

absl::StatusOr<SafetensorsIndex> ParseSafetensorsIndex(const Json& document,
                                                       absl::string_view source) {
  const Json* map = JsonMember(document, "weight_map");
  if (map == nullptr || !map->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": weight_map: expected an object {tensor name: shard file}, as "
                "model.safetensors.index.json holds"));
  }
  if (map->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": weight_map is empty: the index lists no tensors"));
  }
  SafetensorsIndex index;
  absl::flat_hash_set<std::string> seen;
  for (auto it = map->begin(); it != map->end(); ++it) {
    if (!it.value().is_string() || it.value().get_ref<const std::string&>().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": weight_map.\"", it.key(), "\": expected a shard file name, got ",
          JsonTypeName(it.value())));
    }
    const std::string& shard = it.value().get_ref<const std::string&>();
    if (seen.insert(shard).second) index.shards.push_back(shard);
    index.weight_map.emplace_back(it.key(), shard);
  }
  return index;
}

}  // namespace mapping
}  // namespace wring
