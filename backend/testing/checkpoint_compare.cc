#include "backend/testing/checkpoint_compare.h"

#include <torch/torch.h>

#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "backend/safetensors/reader.h"
#include "gtest/gtest.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace testing {
namespace {

// The eight 4-bit fields of each int32, so that values, not words, count.
torch::Tensor Nibbles(const torch::Tensor& packed) {
  std::vector<torch::Tensor> fields;
  for (int shift = 0; shift < 32; shift += 4) {
    fields.push_back(packed.bitwise_right_shift(shift).bitwise_and(0xF));
  }
  return torch::stack(fields);
}

}  // namespace

mapping::Json ReadJson(const std::string& path) {
  auto json = mapping::ParseJson(mapping::testing::ReadFileOrFail(path), path);
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : mapping::Json();
}

std::vector<TensorDifference> CompareCheckpoints(const std::string& ours_dir,
                                                 const std::string& reference_dir) {
  std::vector<TensorDifference> out;
  auto ours = safetensors::SafetensorsFile::Open(ours_dir + "/model.safetensors");
  auto reference = safetensors::SafetensorsFile::Open(reference_dir + "/model.safetensors");
  EXPECT_TRUE(ours.ok()) << ours.status();
  EXPECT_TRUE(reference.ok()) << reference.status();
  if (!ours.ok() || !reference.ok()) return out;
  std::set<std::string> our_names, reference_names;
  for (const auto& t : (*ours)->header().tensors) our_names.insert(t.name);
  for (const auto& t : (*reference)->header().tensors) reference_names.insert(t.name);
  EXPECT_EQ(our_names, reference_names);
  for (const std::string& name : reference_names) {
    if (our_names.count(name) == 0) continue;
    auto a = (*ours)->Get(name);
    auto b = (*reference)->Get(name);
    EXPECT_TRUE(a.ok() && b.ok()) << name;
    if (!a.ok() || !b.ok()) continue;
    EXPECT_EQ(a->scalar_type(), b->scalar_type()) << name;
    EXPECT_EQ(a->sizes(), b->sizes()) << name;
    if (a->scalar_type() != b->scalar_type() || a->sizes() != b->sizes()) continue;
    torch::Tensor x = *a, y = *b;
    if (x.scalar_type() == torch::kInt32 && absl::EndsWith(name, "_packed")) {
      x = Nibbles(x);
      y = Nibbles(y);
    }
    x = x.to(torch::kFloat64);
    y = y.to(torch::kFloat64);
    TensorDifference d;
    d.name = name;
    d.elements = x.numel();
    const torch::Tensor abs = (x - y).abs();
    d.differing = x.ne(y).sum().item<int64_t>();
    d.max_abs = d.elements > 0 ? abs.max().item<double>() : 0;
    const torch::Tensor nonzero = y.ne(0);
    if (nonzero.any().item<bool>()) {
      d.max_relative = (abs.masked_select(nonzero) / y.abs().masked_select(nonzero)).max().item<double>();
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::string ComparableQuantizationConfig(const std::string& config_path) {
  const mapping::Json config = ReadJson(config_path)["quantization_config"];
  return nlohmann::json::parse(config.dump()).dump(1);
}

}  // namespace testing
}  // namespace backend
}  // namespace wring
