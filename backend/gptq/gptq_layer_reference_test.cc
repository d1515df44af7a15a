// One decoder layer of llm-compressor's own GPTQ W4A16 run (oneshot, actorder
// static, group 128; backend/job/testdata/gptq): given the Hessians upstream
// accumulated for layer 0, wring's solve gives upstream's integers, scales
// and logged losses.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "backend/gptq/gptq.h"
#include "backend/pack/pack.h"
#include "backend/quantize/quantize.h"
#include "backend/safetensors/reader.h"
#include "mapping/base/json.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace gptq {
namespace {

std::unique_ptr<safetensors::SafetensorsFile> Open(const std::string& path) {
  auto file = safetensors::SafetensorsFile::Open(mapping::testing::RunfilePath(path));
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? std::move(*file) : nullptr;
}

torch::Tensor Get(const safetensors::SafetensorsFile& file, const std::string& name) {
  auto t = file.Get(name);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? t->clone() : torch::Tensor();
}

TEST(GptqLayerReference, Layer0OfUpstreamsW4A16Run) {
  const std::string reference = "backend/job/testdata/gptq/reference/gptq_w4a16/";
  auto original = Open("backend/job/testdata/oneshot/tiny_llama/model.safetensors");
  auto hessians = Open(reference + "gptq_hessians.safetensors");
  auto checkpoint = Open(reference + "model.safetensors");
  ASSERT_TRUE(original && hessians && checkpoint);
  std::map<std::string, double> logged;
  {
    auto json = mapping::ParseJson(mapping::testing::ReadFileOrFail(
                                       mapping::testing::RunfilePath(reference + "gptq.json")),
                                   "gptq.json");
    ASSERT_TRUE(json.ok()) << json.status();
    for (const auto& batch : (*json)["batches"]) {
      for (size_t i = 0; i < batch["modules"].size(); ++i) {
        logged[batch["modules"][i].get<std::string>()] = batch["losses"][i].get<double>();
      }
    }
  }
  quantize::QuantizationArgs args;  // W4A16
  args.num_bits = 4;
  args.strategy = quantize::QuantizationStrategy::kGroup;
  args.group_size = 128;
  GptqOptions options;  // block_size 128, dampening_frac 0.01, actorder static

  int64_t differing = 0, total = 0;
  for (const std::string& module :
       {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}) {
    const std::string name = "model.layers.0." + module;
    SCOPED_TRACE(name);
    const torch::Tensor weight = Get(*original, name + ".weight");
    auto qparams = quantize::ComputeWeightQParams(weight, args);
    ASSERT_TRUE(qparams.ok());
    EXPECT_TRUE(torch::equal(qparams->scale, Get(*checkpoint, name + ".weight_scale")));

    auto result = QuantizeWeights(weight.unsqueeze(0), Get(*hessians, name).unsqueeze(0),
                                  quantize::QParams{qparams->scale.unsqueeze(0), qparams->zero_point.unsqueeze(0)},
                                  args, options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_FALSE(result->rtn_fallback[0]);
    auto ours = quantize::Quantize(result->quantized[0].to(torch::kBFloat16), *qparams, args, torch::kChar);
    ASSERT_TRUE(ours.ok()) << ours.status();
    auto theirs = pack::UnpackFromInt32(Get(*checkpoint, name + ".weight_packed"), 4,
                                        {weight.size(0), weight.size(1)});
    ASSERT_TRUE(theirs.ok()) << theirs.status();
    const torch::Tensor differ = ours->ne(*theirs);
    differing += differ.sum().item<int64_t>();
    total += differ.numel();
    EXPECT_LE((ours->to(torch::kInt) - theirs->to(torch::kInt)).abs().max().item<int>(), 1);
    const double loss = result->losses[0].item<double>();
    EXPECT_NEAR(loss, logged.at(name), 1e-3 * logged.at(name));
  }
  // The Cholesky factors and block products come from OpenBLAS here and MKL
  // upstream: a float32 rounding apart, a few values near a rounding
  // boundary land one integer step away.
  std::cout << differing << " of " << total << " int4 values differ from upstream's\n";
  EXPECT_LE(static_cast<double>(differing) / total, 0.002);
}

}  // namespace
}  // namespace gptq
}  // namespace backend
}  // namespace wring
