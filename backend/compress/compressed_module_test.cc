#include "backend/compress/compressed_module.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/compat/torch_compat.h"
#include "backend/observe/observer.h"
#include "backend/pack/pack.h"
#include "backend/quantize/quantize.h"
#include "backend/safetensors/writer.h"
#include "gtest/gtest.h"
#include "mapping/quantization/quantization_scheme.h"

namespace wring {
namespace backend {
namespace compress {
namespace {

using mapping::CompressionFormat;
using safetensors::TensorToWrite;

mapping::QuantizationScheme Preset(const char* name) {
  auto scheme = mapping::PresetScheme(name, {"Linear"});
  EXPECT_TRUE(scheme.ok()) << scheme.status();
  return *scheme;
}

torch::Tensor RandomWeight(int64_t rows, int64_t cols, torch::Dtype dtype = torch::kBFloat16) {
  torch::manual_seed(1234);
  return (torch::randn({rows, cols}) * 0.05).to(dtype);
}

const TensorToWrite& Get(const std::vector<TensorToWrite>& tensors, const std::string& name) {
  for (const TensorToWrite& tensor : tensors) {
    if (tensor.name == name) return tensor;
  }
  ADD_FAILURE() << "no tensor named " << name;
  static const TensorToWrite* missing = new TensorToWrite{};
  return *missing;
}

std::vector<std::string> Names(const std::vector<TensorToWrite>& tensors) {
  std::vector<std::string> names;
  for (const TensorToWrite& tensor : tensors) names.push_back(tensor.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::string DtypeName(const TensorToWrite& tensor) {
  auto name = safetensors::SafetensorsDtypeName(tensor);
  return name.ok() ? *name : std::string(name.status().message());
}

std::vector<int64_t> Shape(const TensorToWrite& tensor) { return tensor.tensor.sizes().vec(); }

TEST(CompressWeightTest, PackQuantizedW4A16UnpacksToTheFakeQuantizedWeight) {
  const mapping::QuantizationScheme scheme = Preset("W4A16");
  const torch::Tensor weight = RandomWeight(16, 256);
  auto tensors = CompressWeight("layer.q_proj", weight, scheme, CompressionFormat::kPackQuantized);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_EQ(Names(*tensors), (std::vector<std::string>{"layer.q_proj.weight_packed", "layer.q_proj.weight_scale",
                                                       "layer.q_proj.weight_shape"}));

  const TensorToWrite& packed = Get(*tensors, "layer.q_proj.weight_packed");
  const TensorToWrite& scale = Get(*tensors, "layer.q_proj.weight_scale");
  const TensorToWrite& shape = Get(*tensors, "layer.q_proj.weight_shape");
  EXPECT_EQ(DtypeName(packed), "I32");
  EXPECT_EQ(Shape(packed), (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(DtypeName(scale), "BF16");
  EXPECT_EQ(Shape(scale), (std::vector<int64_t>{16, 2}));
  EXPECT_EQ(DtypeName(shape), "I64");
  EXPECT_TRUE(torch::equal(shape.tensor, torch::tensor(std::vector<int64_t>{16, 256})));

  auto args = ToBackendWeightArgs(*scheme.weights);
  ASSERT_TRUE(args.ok()) << args.status();
  auto unpacked = pack::UnpackFromInt32(packed.tensor, 4, {16, 256});
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_LE(unpacked->max().item<int>(), 7);
  EXPECT_GE(unpacked->min().item<int>(), -8);
  quantize::QParams stored{scale.tensor, torch::zeros_like(scale.tensor, torch::kChar)};
  auto dequantized = quantize::Dequantize(*unpacked, stored, *args);
  ASSERT_TRUE(dequantized.ok()) << dequantized.status();

  auto qparams = quantize::ComputeWeightQParams(weight, *args);
  ASSERT_TRUE(qparams.ok()) << qparams.status();
  auto fake = quantize::FakeQuantize(weight, *qparams, *args);
  ASSERT_TRUE(fake.ok()) << fake.status();
  EXPECT_TRUE(torch::equal(scale.tensor, qparams->scale));
  EXPECT_EQ(dequantized->scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(*dequantized, *fake));
}

TEST(CompressWeightTest, PackQuantizedAsymmetricPacksZeroPointsAlongRows) {
  const mapping::QuantizationScheme scheme = Preset("W4A16_ASYM");
  const torch::Tensor weight = RandomWeight(20, 256, torch::kFloat32);
  auto tensors = CompressWeight("m", weight, scheme, CompressionFormat::kPackQuantized);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_EQ(Names(*tensors),
            (std::vector<std::string>{"m.weight_packed", "m.weight_scale", "m.weight_shape", "m.weight_zero_point"}));
  EXPECT_EQ(DtypeName(Get(*tensors, "m.weight_scale")), "F32");
  EXPECT_EQ(Shape(Get(*tensors, "m.weight_scale")), (std::vector<int64_t>{20, 2}));
  const TensorToWrite& zero_point = Get(*tensors, "m.weight_zero_point");
  EXPECT_EQ(DtypeName(zero_point), "I32");
  // 8 consecutive rows share a word: ceil(20 / 8) = 3.
  EXPECT_EQ(Shape(zero_point), (std::vector<int64_t>{3, 2}));

  auto args = ToBackendWeightArgs(*scheme.weights);
  ASSERT_TRUE(args.ok()) << args.status();
  auto qparams = quantize::ComputeWeightQParams(weight, *args);
  ASSERT_TRUE(qparams.ok()) << qparams.status();
  auto unpacked_zp = pack::UnpackFromInt32(zero_point.tensor, 4, {20, 2}, pack::PackedDim::kRows);
  ASSERT_TRUE(unpacked_zp.ok()) << unpacked_zp.status();
  EXPECT_TRUE(torch::equal(*unpacked_zp, qparams->zero_point));
  // Asymmetric random weights do not all get the zero point 0.
  EXPECT_GT(qparams->zero_point.abs().sum().item<int64_t>(), 0);

  auto unpacked = pack::UnpackFromInt32(Get(*tensors, "m.weight_packed").tensor, 4, {20, 256});
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  auto dequantized = quantize::Dequantize(*unpacked, *qparams, *args);
  auto fake = quantize::FakeQuantize(weight, *qparams, *args);
  ASSERT_TRUE(dequantized.ok() && fake.ok());
  EXPECT_TRUE(torch::equal(*dequantized, *fake));
}

TEST(CompressWeightTest, IntQuantizedW8A8StoresInt8WeightsAndChannelScales) {
  const mapping::QuantizationScheme scheme = Preset("W8A8");
  const torch::Tensor weight = RandomWeight(12, 40);
  auto tensors = CompressWeight("m", weight, scheme, CompressionFormat::kIntQuantized);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_EQ(Names(*tensors), (std::vector<std::string>{"m.weight", "m.weight_scale"}));
  const TensorToWrite& values = Get(*tensors, "m.weight");
  EXPECT_EQ(DtypeName(values), "I8");
  EXPECT_EQ(Shape(values), (std::vector<int64_t>{12, 40}));
  EXPECT_EQ(DtypeName(Get(*tensors, "m.weight_scale")), "BF16");
  EXPECT_EQ(Shape(Get(*tensors, "m.weight_scale")), (std::vector<int64_t>{12, 1}));
  // Symmetric int8: every row's largest magnitude lands on the range's edge.
  EXPECT_TRUE(torch::all(values.tensor.to(torch::kInt).abs().amax(1) >= 127).item<bool>());

  auto args = ToBackendWeightArgs(*scheme.weights);
  ASSERT_TRUE(args.ok());
  auto qparams = quantize::ComputeWeightQParams(weight, *args);
  ASSERT_TRUE(qparams.ok());
  auto dequantized = quantize::Dequantize(values.tensor, *qparams, *args);
  auto fake = quantize::FakeQuantize(weight, *qparams, *args);
  ASSERT_TRUE(dequantized.ok() && fake.ok());
  EXPECT_TRUE(torch::equal(*dequantized, *fake));
}

TEST(CompressWeightTest, IntQuantizedAsymmetricKeepsInt8ZeroPoint) {
  mapping::QuantizationScheme scheme = Preset("W8A8");
  scheme.weights->symmetric = false;
  scheme.weights->zp_dtype = "int8";
  auto tensors = CompressWeight("m", RandomWeight(6, 32), scheme, CompressionFormat::kIntQuantized);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_EQ(Names(*tensors), (std::vector<std::string>{"m.weight", "m.weight_scale", "m.weight_zero_point"}));
  EXPECT_EQ(DtypeName(Get(*tensors, "m.weight_zero_point")), "I8");
  EXPECT_EQ(Shape(Get(*tensors, "m.weight_zero_point")), (std::vector<int64_t>{6, 1}));
}

TEST(CompressWeightTest, FloatQuantizedFp8DynamicWritesE4M3Weights) {
  const mapping::QuantizationScheme scheme = Preset("FP8_DYNAMIC");
  const torch::Tensor weight = RandomWeight(8, 48);
  auto tensors = CompressWeight("m", weight, scheme, CompressionFormat::kFloatQuantized);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_EQ(Names(*tensors), (std::vector<std::string>{"m.weight", "m.weight_scale"}));
  const TensorToWrite& values = Get(*tensors, "m.weight");
  EXPECT_EQ(DtypeName(values), "F8_E4M3");
  EXPECT_EQ(Shape(values), (std::vector<int64_t>{8, 48}));
  EXPECT_EQ(Shape(Get(*tensors, "m.weight_scale")), (std::vector<int64_t>{8, 1}));
  EXPECT_EQ(DtypeName(Get(*tensors, "m.weight_scale")), "BF16");

  const torch::Tensor as_float = values.tensor.to(torch::kFloat);
  auto rounded = compat::RoundToFloat8E4M3(as_float);
  ASSERT_TRUE(rounded.ok());
  EXPECT_TRUE(torch::equal(*rounded, as_float));
  EXPECT_LE(as_float.abs().max().item<float>(), compat::kFloat8E4M3Max);
  // The per-row absmax maps to (about) 448, not to a small value.
  EXPECT_TRUE(torch::all(as_float.abs().amax(1) >= 400).item<bool>());
}

TEST(CompressWeightTest, RejectsWhatItCannotWrite) {
  EXPECT_EQ(CompressWeight("m", RandomWeight(8, 32), Preset("FP8_DYNAMIC"), CompressionFormat::kPackQuantized)
                .status()
                .code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(CompressWeight("m", RandomWeight(8, 128), Preset("NVFP4"), CompressionFormat::kNvfp4PackQuantized)
                .status()
                .code(),
            absl::StatusCode::kUnimplemented);
  auto three_d = CompressWeight("m", torch::zeros({2, 8, 128}), Preset("W4A16"), CompressionFormat::kPackQuantized);
  EXPECT_EQ(three_d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(three_d.status().message()).find("m.weight must be 2-D"), std::string::npos);
  mapping::QuantizationScheme no_weights = Preset("W4A16");
  no_weights.weights.reset();
  EXPECT_FALSE(CompressWeight("m", RandomWeight(8, 128), no_weights, CompressionFormat::kPackQuantized).ok());
}

TEST(CompressWeightTest, Fp8BlockWritesOneScalePerPaddedBlock) {
  const mapping::QuantizationScheme scheme = Preset("FP8_BLOCK");
  const torch::Tensor weight = RandomWeight(200, 384);
  auto tensors = CompressWeight("mlp.up_proj", weight, scheme, CompressionFormat::kFloatQuantized);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_EQ(Names(*tensors), (std::vector<std::string>{"mlp.up_proj.weight", "mlp.up_proj.weight_scale"}));
  const TensorToWrite& scale = Get(*tensors, "mlp.up_proj.weight_scale");
  EXPECT_EQ(DtypeName(scale), "BF16");
  EXPECT_EQ(Shape(scale), (std::vector<int64_t>{2, 3}));  // ceil(200/128), 384/128
  // Block (1, 2) covers rows 128..199 (the rest is zero padding), cols 256..383.
  const float absmax = weight.slice(0, 128, 200).slice(1, 256, 384).abs().max().item<float>();
  const float expected = (torch::scalar_tensor(absmax).to(torch::kBFloat16) / 448.0).item<float>();
  EXPECT_EQ(scale.tensor[1][2].item<float>(), expected);
  const TensorToWrite& values = Get(*tensors, "mlp.up_proj.weight");
  EXPECT_TRUE(values.as_float8_e4m3);
  EXPECT_EQ(Shape(values), (std::vector<int64_t>{200, 384}));
}

TEST(CompressWeightTest, UsesTheSchemesMseObserverOrTheGivenQParams) {
  mapping::QuantizationScheme scheme = Preset("W4A16");
  scheme.weights->observer = "mse";  // rewritten to memoryless_mse for weights
  const torch::Tensor weight = RandomWeight(16, 256);
  auto args = ToBackendWeightArgs(*scheme.weights);
  ASSERT_TRUE(args.ok()) << args.status();
  auto mse = observe::ComputeWeightQParams(weight, *args, std::string("memoryless_mse"), {});
  auto minmax = quantize::ComputeWeightQParams(weight, *args);
  ASSERT_TRUE(mse.ok() && minmax.ok());
  ASSERT_FALSE(torch::equal(mse->scale, minmax->scale));  // the search shrinks some groups

  auto tensors = CompressWeight("m", weight, scheme, CompressionFormat::kPackQuantized);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  EXPECT_TRUE(torch::equal(Get(*tensors, "m.weight_scale").tensor, mse->scale));

  auto given = CompressWeight("m", weight, Preset("W4A16"), CompressionFormat::kPackQuantized, *mse);
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_TRUE(torch::equal(Get(*given, "m.weight_scale").tensor, mse->scale));
  EXPECT_TRUE(torch::equal(Get(*given, "m.weight_packed").tensor, Get(*tensors, "m.weight_packed").tensor));

  scheme.weights->observer = "imatrix_mse";
  EXPECT_EQ(CompressWeight("m", weight, scheme, CompressionFormat::kPackQuantized).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(ActivationQParamTensorsTest, NamesScalesAndKeepsOnlyAsymmetricZeroPoints) {
  quantize::QParams qparams{torch::full({1}, 0.5, torch::kBFloat16), torch::full({1}, -3, torch::kChar)};
  mapping::QuantizationArgs args;
  args.type = mapping::QuantizationType::kFloat;
  auto fp8 = ActivationQParamTensors("model.layers.0.self_attn", "k", qparams, args);
  ASSERT_TRUE(fp8.ok()) << fp8.status();
  ASSERT_EQ(Names(*fp8), (std::vector<std::string>{"model.layers.0.self_attn.k_scale"}));
  EXPECT_EQ(DtypeName(fp8->front()), "BF16");
  EXPECT_EQ(Shape(fp8->front()), (std::vector<int64_t>{1}));

  args.type = mapping::QuantizationType::kInt;
  args.symmetric = false;
  auto asym = ActivationQParamTensors("model.layers.0.mlp.down_proj", "input", qparams, args);
  ASSERT_TRUE(asym.ok()) << asym.status();
  ASSERT_EQ(Names(*asym), (std::vector<std::string>{"model.layers.0.mlp.down_proj.input_scale",
                                                    "model.layers.0.mlp.down_proj.input_zero_point"}));
  EXPECT_EQ(DtypeName(Get(*asym, "model.layers.0.mlp.down_proj.input_zero_point")), "I8");
  EXPECT_FALSE(ActivationQParamTensors("m", "weight", qparams, args).ok());
}

}  // namespace
}  // namespace compress
}  // namespace backend
}  // namespace wring
