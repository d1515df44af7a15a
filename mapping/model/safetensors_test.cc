#include "mapping/model/safetensors.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

std::string LengthPrefix(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// A file with `header` and `data_bytes` zero bytes of data.
std::string File(const std::string& header, size_t data_bytes) {
  return LengthPrefix(header.size()) + header + std::string(data_bytes, '\0');
}

absl::StatusOr<SafetensorsHeader> Parse(const std::string& file) {
  return ParseSafetensorsHeader(file, file.size(), "model.safetensors");
}

void ExpectError(const std::string& file, const std::string& expected) {
  absl::StatusOr<SafetensorsHeader> header = Parse(file);
  ASSERT_FALSE(header.ok()) << "accepted, expected error: " << expected;
  EXPECT_NE(header.status().message().find(expected), std::string::npos)
      << header.status().message();
  EXPECT_NE(header.status().message().find("model.safetensors"), std::string::npos);
}

TEST(SafetensorsHeaderTest, ParsesTensorsAndMetadata) {
  std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("model.embed_tokens.weight":{"dtype":"BF16","shape":[4,2],"data_offsets":[0,16]},)"
      R"("model.norm.weight":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
      R"("scale":{"dtype":"F8_E4M3","shape":[],"data_offsets":[24,25]}})"
      "   ";  // writers pad the header with spaces
  absl::StatusOr<SafetensorsHeader> parsed = Parse(File(header, 25));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->tensors.size(), 3u);
  EXPECT_EQ(parsed->tensors[0].name, "model.embed_tokens.weight");
  EXPECT_EQ(parsed->tensors[0].dtype, "BF16");
  EXPECT_EQ(parsed->tensors[0].shape, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(parsed->tensors[1].begin, 16u);
  EXPECT_EQ(parsed->tensors[2].shape, std::vector<int64_t>{});
  ASSERT_EQ(parsed->metadata.size(), 1u);
  EXPECT_EQ(parsed->metadata[0].second, "pt");
  EXPECT_EQ(parsed->header_length, header.size());
}

TEST(SafetensorsHeaderTest, OnlyTheHeaderBytesAreNeeded) {
  std::string header = R"({"w":{"dtype":"F16","shape":[1000,1000],"data_offsets":[0,2000000]}})";
  std::string prefix = LengthPrefix(header.size()) + header;  // no data bytes at all
  absl::StatusOr<SafetensorsHeader> parsed =
      ParseSafetensorsHeader(prefix, prefix.size() + 2000000, "big.safetensors");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->tensors[0].end, 2000000u);
}

TEST(SafetensorsHeaderTest, SubByteDtypes) {
  std::string header = R"({"w":{"dtype":"F4","shape":[3,2],"data_offsets":[0,3]}})";
  EXPECT_TRUE(Parse(File(header, 3)).ok());
  ExpectError(File(R"({"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2),
              "not a whole number of bytes");
}

TEST(SafetensorsHeaderTest, RejectsMalformedHeaders) {
  // Truncated before the length.
  ExpectError("abc", "too short for the 8-byte header length");
  // Header length beyond the file.
  ExpectError(LengthPrefix(1000) + "{}", "header length 1000 bytes is larger than the file");
  // Beyond the cap.
  ExpectError(LengthPrefix(uint64_t{1} << 40) + "{}", "exceeds the limit of 100000000");
  // Not starting with '{'.
  ExpectError(File("[1,2]", 0), "must be a JSON object starting with '{'");
  // Truncated JSON.
  ExpectError(File(R"({"w":{"dtype":"F32")", 0), "not valid JSON");
  // Non-object tensor entry.
  ExpectError(File(R"({"w":[1,2]})", 0), "tensor \"w\": expected an object");
  // Wrong dtype.
  ExpectError(File(R"({"w":{"dtype":"float32","shape":[1],"data_offsets":[0,4]}})", 4),
              "tensor \"w\": unknown dtype \"float32\"");
  // Negative shape.
  ExpectError(File(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
              "shape entries must be non-negative integers, got -1");
  // Numel mismatch.
  ExpectError(File(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20),
              "tensor \"w\": numel mismatch: shape [2, 3] of F32 needs 24 bytes but data_offsets "
              "[0, 20] hold 20");
  // Out of range.
  ExpectError(File(R"({"w":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", 4),
              "data_offsets [0, 8] are out of range: the data section holds 4 bytes");
  // Overlap.
  ExpectError(File(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                   R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                   6),
              "tensor \"b\": data_offsets [2, 6] overlap tensor \"a\" [0, 4]");
  // Gap.
  ExpectError(File(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", 4),
              "leave a gap of 2 bytes");
  // Trailing data.
  ExpectError(File(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 5),
              "the tensors cover 2 bytes but the data section holds 5");
  // Begin after end, malformed offsets.
  ExpectError(File(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[3,1]}})", 3),
              "end before they begin");
  ExpectError(File(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0]}})", 0),
              "\"data_offsets\" must be [begin, end]");
  // Metadata of the wrong type.
  ExpectError(File(R"({"__metadata__":{"k":1}})", 0), "\"__metadata__\".\"k\" must be a string");
  // Huge shape that would overflow numel.
  ExpectError(File(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],)"
                   R"("data_offsets":[0,8]}})",
                   8),
              "needs more than 2^59 bytes");
}

TEST(SafetensorsHeaderTest, SurvivesRandomAndMutatedHeaders) {
  std::string valid = File(
      R"({"__metadata__":{"format":"pt"},"a.weight":{"dtype":"BF16","shape":[4,2],)"
      R"("data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})",
      24);
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string file = valid;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % file.size();
      switch (rng() % 4) {
        case 0: file[pos] = static_cast<char>(rng()); break;
        case 1: file.erase(pos, 1 + rng() % 8); break;
        case 2: file.insert(pos, 1, "{}[],:\"0-9e"[rng() % 11]); break;
        case 3: file.resize(pos); break;
      }
      if (file.empty()) break;
    }
    absl::StatusOr<SafetensorsHeader> parsed =
        ParseSafetensorsHeader(file, file.size() + rng() % 3, "fuzz.safetensors");
    if (parsed.ok()) {
      ++accepted;
    } else {
      EXPECT_FALSE(parsed.status().message().empty());
    }
  }
  // Purely random bytes.
  for (int round = 0; round < 2000; ++round) {
    std::string file(rng() % 64, '\0');
    for (char& c : file) c = static_cast<char>(rng());
    (void)ParseSafetensorsHeader(file, file.size(), "random.safetensors");
  }
  EXPECT_LT(accepted, 20000);  // mutations are mostly caught
}

TEST(SafetensorsIndexTest, ParsesWeightMap) {
  absl::StatusOr<Json> json = ParseJson(
      R"({"metadata":{"total_size":10},"weight_map":{"b.weight":"model-00002.safetensors",)"
      R"("a.weight":"model-00001.safetensors","c.weight":"model-00002.safetensors"}})",
      "index.json");
  ASSERT_TRUE(json.ok());
  ASSERT_TRUE(IsSafetensorsIndex(*json));
  absl::StatusOr<SafetensorsIndex> index = ParseSafetensorsIndex(*json, "index.json");
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->weight_map.size(), 3u);
  EXPECT_EQ(index->weight_map[0].first, "b.weight");
  EXPECT_EQ(index->shards,
            (std::vector<std::string>{"model-00002.safetensors", "model-00001.safetensors"}));
}

TEST(SafetensorsIndexTest, RejectsBadWeightMaps) {
  for (const char* text : {R"({"weight_map":[]})", R"({"weight_map":{}})",
                           R"({"weight_map":{"a":3}})"}) {
    absl::StatusOr<Json> json = ParseJson(text, "index.json");
    ASSERT_TRUE(json.ok());
    absl::StatusOr<SafetensorsIndex> index = ParseSafetensorsIndex(*json, "index.json");
    ASSERT_FALSE(index.ok()) << text;
    EXPECT_NE(index.status().message().find("index.json: weight_map"), std::string::npos)
        << index.status();
  }
}

}  // namespace
}  // namespace mapping
}  // namespace wring
