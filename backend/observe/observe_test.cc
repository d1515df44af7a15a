// Checks observers, calibrators and dynamic qparams against llm-compressor /
// compressed-tensors run on the same tensors (testdata/, see
// generate_observer_reference.py). Every comparison is bitwise.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "backend/observe/activation_calibrator.h"
#include "backend/observe/args.h"
#include "backend/observe/kv_cache_calibrator.h"
#include "backend/observe/observer.h"
#include "backend/quantize/quantize.h"
#include "backend/safetensors/reader.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/quantization/quantization_args.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace observe {
namespace {

using mapping::Json;

std::string TestdataPath(const std::string& name) {
  return mapping::testing::RunfilePath("backend/observe/testdata/" + name);
}

class Reference {
 public:
  Reference() {
    json_ = Json::parse(mapping::testing::ReadFileOrFail(TestdataPath("observer_reference.json")));
    auto file = safetensors::SafetensorsFile::Open(TestdataPath("observer_reference.safetensors"));
    EXPECT_TRUE(file.ok()) << file.status();
    file_ = std::move(*file);
  }
  const Json& cases() const { return json_["cases"]; }
  torch::Tensor Get(const Json& name) const {
    auto t = file_->Get(name.get<std::string>());
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->clone() : torch::Tensor();
  }

 private:
  Json json_;
  std::unique_ptr<safetensors::SafetensorsFile> file_;
};

const Reference& Ref() {
  static const Reference* reference = new Reference();
  return *reference;
}

mapping::QuantizationArgs ArgsOf(const Json& c) {
  const Json& a = c["args"];
  mapping::QuantizationArgs args;
  args.num_bits = a["num_bits"].get<int>();
  args.type = a["type"] == "float" ? mapping::QuantizationType::kFloat : mapping::QuantizationType::kInt;
  args.symmetric = a["symmetric"].get<bool>();
  const std::string strategy = a["strategy"];
  if (strategy == "tensor") args.strategy = mapping::QuantizationStrategy::kTensor;
  if (strategy == "channel") args.strategy = mapping::QuantizationStrategy::kChannel;
  if (strategy == "group") args.strategy = mapping::QuantizationStrategy::kGroup;
  if (strategy == "block") args.strategy = mapping::QuantizationStrategy::kBlock;
  if (strategy == "token") args.strategy = mapping::QuantizationStrategy::kToken;
  if (strategy == "attn_head") args.strategy = mapping::QuantizationStrategy::kAttnHead;
  if (a.contains("group_size")) args.group_size = a["group_size"].get<int>();
  if (a.contains("block_structure")) args.block_structure = a["block_structure"].get<std::vector<int>>();
  args.dynamic = a["dynamic"].get<bool>() ? mapping::DynamicMode::kDynamic : mapping::DynamicMode::kStatic;
  if (a["observer"].is_string()) args.observer = a["observer"].get<std::string>();
  for (const auto& [key, value] : a["observer_kwargs"].items()) args.observer_kwargs[key] = value.get<std::string>();
  args.zp_dtype = args.type == mapping::QuantizationType::kInt ? "int8" : "float8_e4m3fn";
  return args;
}

// Bitwise equality of values (both sides widened to float32 / int32, which
// is exact for every dtype involved) and of the shape.
void ExpectSame(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what;
  EXPECT_EQ(actual.sizes().vec(), expected.sizes().vec()) << what;
  if (actual.sizes() != expected.sizes()) return;
  const torch::Dtype wide = expected.is_floating_point() ? torch::kFloat : torch::kInt;
  const torch::Tensor a = actual.to(wide);
  const torch::Tensor e = expected.to(wide);
  const int64_t mismatches = a.ne(e).sum().item<int64_t>();
  EXPECT_EQ(mismatches, 0) << what << ": " << mismatches << " of " << e.numel() << " differ; first: actual "
                           << a.flatten().index({a.flatten().ne(e.flatten())}).slice(0, 0, 4) << " expected "
                           << e.flatten().index({a.flatten().ne(e.flatten())}).slice(0, 0, 4);
}

TEST(Observers, WeightObserversMatchUpstream) {
  int checked = 0;
  for (const Json& c : Ref().cases()) {
    if (c["kind"] != "weight") continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const mapping::QuantizationArgs margs = ArgsOf(c);
    auto args = FromMappingArgs(margs, "weights");
    ASSERT_TRUE(args.ok()) << args.status();
    const torch::Tensor weight = Ref().Get(c["input"]);
    auto qparams = ComputeWeightQParams(weight, args->quantize, args->observer, args->observer_kwargs);
    ASSERT_TRUE(qparams.ok()) << qparams.status();
    EXPECT_EQ(qparams->scale.scalar_type(), weight.scalar_type());
    ExpectSame(qparams->scale, Ref().Get(c["scale"]), "scale");
    ExpectSame(qparams->zero_point, Ref().Get(c["zero_point"]), "zero_point");
    const bool is_int = margs.type == mapping::QuantizationType::kInt;
    auto quantized = quantize::Quantize(weight, *qparams, args->quantize,
                                        is_int ? std::optional<torch::Dtype>(torch::kChar) : std::nullopt);
    ASSERT_TRUE(quantized.ok()) << quantized.status();
    ExpectSame(*quantized, Ref().Get(c["quantized"]), "quantized");
    auto fake = quantize::FakeQuantize(weight, *qparams, args->quantize);
    ASSERT_TRUE(fake.ok()) << fake.status();
    ExpectSame(*fake, Ref().Get(c["fake_quantized"]), "fake_quantized");
    ++checked;
  }
  EXPECT_EQ(checked, 18);
}

TEST(Observers, ActivationObserversMatchUpstreamCallByCall) {
  int checked = 0;
  for (const Json& c : Ref().cases()) {
    if (c["kind"] != "input" && c["kind"] != "k" && c["kind"] != "v") continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    auto args = FromMappingArgs(ArgsOf(c), "input_activations");
    ASSERT_TRUE(args.ok()) << args.status();
    const ObservedValue value = c["kind"] == "input" ? ObservedValue::kActivation : ObservedValue::kAttention;
    const std::string name = ResolveObserverName(args->observer, value);
    EXPECT_EQ(name, c["observer"].get<std::string>());
    auto options = ParseObserverOptions(name, args->observer_kwargs);
    ASSERT_TRUE(options.ok()) << options.status();
    auto observer = Observer::Create(value, args->quantize, *options);
    ASSERT_TRUE(observer.ok()) << observer.status();
    for (size_t i = 0; i < c["inputs"].size(); ++i) {
      ASSERT_TRUE((*observer)->Observe(Ref().Get(c["inputs"][i])).ok());
      ExpectSame((*observer)->min_vals(), Ref().Get(c["min_vals"][i]), "min_vals " + std::to_string(i));
      ExpectSame((*observer)->max_vals(), Ref().Get(c["max_vals"][i]), "max_vals " + std::to_string(i));
    }
    auto qparams = (*observer)->GetQParams();
    ASSERT_TRUE(qparams.ok()) << qparams.status();
    ExpectSame(qparams->scale, Ref().Get(c["scale"]), "scale");
    ExpectSame(qparams->zero_point, Ref().Get(c["zero_point"]), "zero_point");
    EXPECT_FALSE((*observer)->has_statistics());  // consumed, as upstream deletes them
    ++checked;
  }
  EXPECT_EQ(checked, 11);
}

TEST(ActivationCalibrator, StaticInputScaleAndFakeQuantizationMatchUpstream) {
  int checked = 0;
  for (const Json& c : Ref().cases()) {
    if (c["kind"] != "input" || !c.contains("fake_quantized")) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const torch::Tensor first = Ref().Get(c["inputs"][0]);
    auto calibrator = ActivationCalibrator::Create(ArgsOf(c), first.scalar_type(), first.size(-1));
    ASSERT_TRUE(calibrator.ok()) << calibrator.status();
    EXPECT_FALSE((*calibrator)->is_dynamic());
    torch::Tensor last;
    for (const Json& input : c["inputs"]) {
      last = Ref().Get(input);
      ASSERT_TRUE((*calibrator)->Observe(last).ok());
    }
    auto frozen = (*calibrator)->Freeze();
    ASSERT_TRUE(frozen.ok()) << frozen.status();
    EXPECT_EQ(frozen->scale.scalar_type(), first.scalar_type());
    ExpectSame(frozen->scale, Ref().Get(c["scale"]), "input_scale");
    ExpectSame(frozen->zero_point, Ref().Get(c["zero_point"]), "input_zero_point");
    auto fake = (*calibrator)->FakeQuantize(last);
    ASSERT_TRUE(fake.ok()) << fake.status();
    ExpectSame(*fake, Ref().Get(c["fake_quantized"]), "fake_quantized");
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(ActivationCalibrator, WeightDtypeDecidesTheScaleDtype) {
  mapping::QuantizationArgs args;
  args.type = mapping::QuantizationType::kFloat;
  args.observer = "static_minmax";
  args.zp_dtype = "float8_e4m3fn";
  auto calibrator = ActivationCalibrator::Create(args, torch::kBFloat16, 4);
  ASSERT_TRUE(calibrator.ok()) << calibrator.status();
  ASSERT_TRUE((*calibrator)->Observe(torch::tensor({{{1.0f, -3.0f, 2.0f, 0.5f}}})).ok());
  auto frozen = (*calibrator)->Freeze();
  ASSERT_TRUE(frozen.ok()) << frozen.status();
  EXPECT_EQ(frozen->scale.scalar_type(), torch::kBFloat16);
  // 3 / 448 in float32, then rounded to bf16 by the parameter copy.
  EXPECT_EQ(frozen->scale.item<float>(), torch::scalar_tensor(3.0f / 448.0f).to(torch::kBFloat16).item<float>());
}

TEST(ActivationCalibrator, DynamicArgsStoreNothing) {
  mapping::QuantizationArgs args;
  args.strategy = mapping::QuantizationStrategy::kToken;
  args.dynamic = mapping::DynamicMode::kDynamic;
  args.zp_dtype = "int8";
  auto calibrator = ActivationCalibrator::Create(args, torch::kFloat, 4);
  ASSERT_TRUE(calibrator.ok()) << calibrator.status();
  EXPECT_TRUE((*calibrator)->is_dynamic());
  EXPECT_TRUE((*calibrator)->Observe(torch::ones({1, 2, 4})).ok());
  EXPECT_EQ((*calibrator)->Freeze().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ActivationCalibrator, UncalibratedStaticInputIsAnError) {
  mapping::QuantizationArgs args;
  args.zp_dtype = "int8";
  auto calibrator = ActivationCalibrator::Create(args, torch::kFloat, 4);
  ASSERT_TRUE(calibrator.ok()) << calibrator.status();
  EXPECT_EQ((*calibrator)->observer_name(), "minmax");
  EXPECT_EQ((*calibrator)->Freeze().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(KvCacheCalibrator, KeyAndValueScalesMatchUpstream) {
  int checked = 0;
  for (const Json& c : Ref().cases()) {
    if (c["kind"] != "k" && c["kind"] != "v") continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const torch::Tensor first = Ref().Get(c["inputs"][0]);
    auto calibrator = KvCacheCalibrator::Create(ArgsOf(c), first.scalar_type(), first.size(1), first.size(3));
    ASSERT_TRUE(calibrator.ok()) << calibrator.status();
    for (const Json& input : c["inputs"]) {
      const torch::Tensor states = Ref().Get(input);
      ASSERT_TRUE((*calibrator)->ObserveKey(states).ok());
      ASSERT_TRUE((*calibrator)->ObserveValue(states).ok());
    }
    auto frozen = (*calibrator)->Freeze();
    ASSERT_TRUE(frozen.ok()) << frozen.status();
    for (const quantize::QParams* qparams : {&frozen->key, &frozen->value}) {
      EXPECT_EQ(qparams->scale.scalar_type(), first.scalar_type());
      ExpectSame(qparams->scale, Ref().Get(c["scale"]), "scale");
      if (ArgsOf(c).symmetric) {
        EXPECT_FALSE(qparams->zero_point.defined());
      } else {
        ExpectSame(qparams->zero_point, Ref().Get(c["zero_point"]), "zero_point");
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(KvCacheCalibrator, RejectsStatesOfTheWrongShape) {
  mapping::QuantizationArgs args;
  args.type = mapping::QuantizationType::kFloat;
  args.zp_dtype = "float8_e4m3fn";
  auto calibrator = KvCacheCalibrator::Create(args, torch::kBFloat16, 2, 16);
  ASSERT_TRUE(calibrator.ok()) << calibrator.status();
  EXPECT_EQ((*calibrator)->ObserveKey(torch::zeros({1, 4, 3, 16})).code(), absl::StatusCode::kInvalidArgument);
}

TEST(DynamicQParams, PerTokenTensorAndGroupMatchUpstream) {
  int checked = 0;
  for (const Json& c : Ref().cases()) {
    if (c["kind"] != "dynamic") continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const torch::Tensor x = Ref().Get(c["input"]);
    auto calibrator = ActivationCalibrator::Create(ArgsOf(c), x.scalar_type(), x.size(-1));
    ASSERT_TRUE(calibrator.ok()) << calibrator.status();
    auto qparams = quantize::ComputeDynamicQParams(x, (*calibrator)->args());
    ASSERT_TRUE(qparams.ok()) << qparams.status();
    ExpectSame(qparams->scale, Ref().Get(c["scale"]), "scale");
    ExpectSame(qparams->zero_point, Ref().Get(c["zero_point"]), "zero_point");
    auto fake = (*calibrator)->FakeQuantize(x);
    ASSERT_TRUE(fake.ok()) << fake.status();
    ExpectSame(*fake, Ref().Get(c["fake_quantized"]), "fake_quantized");
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

TEST(Observers, WeightObserversAreRewrittenToMemorylessOnes) {
  EXPECT_EQ(ResolveObserverName(std::string("static_minmax"), ObservedValue::kWeight), "memoryless_minmax");
  EXPECT_EQ(ResolveObserverName(std::string("minmax"), ObservedValue::kWeight), "memoryless_minmax");
  EXPECT_EQ(ResolveObserverName(std::string("mse"), ObservedValue::kWeight), "memoryless_mse");
  EXPECT_EQ(ResolveObserverName(std::nullopt, ObservedValue::kWeight), "memoryless_minmax");
  EXPECT_EQ(ResolveObserverName(std::nullopt, ObservedValue::kActivation), "minmax");
  EXPECT_EQ(ResolveObserverName(std::string("mse"), ObservedValue::kAttention), "mse");
  EXPECT_EQ(ParseObserverOptions("imatrix_mse", {}).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_FALSE(ParseObserverOptions("mse", {{"expand", "0.5"}}).ok());
  EXPECT_FALSE(ParseObserverOptions("minmax", {{"averaging_constant", "abc"}}).ok());
}

TEST(Observers, MinMaxFollowsUpstreamMovingAverageExample) {
  // llm-compressor tests/llmcompressor/modifiers/calibration/test_observers.py:
  // minmax with averaging_constant 0.1 on rows [0, 0], [-3, 1], [-1, 3].
  quantize::QuantizationArgs args;
  auto options = ParseObserverOptions("minmax", {{"averaging_constant", "0.1"}});
  ASSERT_TRUE(options.ok());
  auto observer = Observer::Create(ObservedValue::kActivation, args, *options);
  ASSERT_TRUE(observer.ok());
  const std::vector<std::vector<float>> rows = {{0, 0}, {-3, 1}, {-1, 3}};
  const std::vector<float> mins = {0, -0.3f, -0.37f};
  const std::vector<float> maxs = {0, 0.1f, 0.39f};
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_TRUE((*observer)->Observe(torch::tensor(rows[i]).reshape({1, 1, 2})).ok());
    EXPECT_NEAR((*observer)->min_vals().item<float>(), mins[i], 1e-6);
    EXPECT_NEAR((*observer)->max_vals().item<float>(), maxs[i], 1e-6);
  }
}

}  // namespace
}  // namespace observe
}  // namespace backend
}  // namespace wring
