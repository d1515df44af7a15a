// Benchmark of SpinQuant's fusing (never a timed test): norm fusion and the
// R1 / R2 (/ R4) rotations applied to a random Llama-shaped model's weights,
// as `wring compress` applies them while loading each decoder layer. Prints
// the time of each stage and extrapolates the decoder layers to the full
// depth.
//
//   bazel run -c opt //bench:rotate_bench -- --shape=llama3-8b --layers=2 --rotations=R1,R2 --transform_type=hadamard
//
// "hadamard" (Sylvester) blocks are applied by FastWalshHadamard, the other
// types by float64 matmuls, as upstream fuses every type.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_split.h"
#include "backend/compat/torch_compat.h"
#include "backend/model/config.h"
#include "backend/spinquant/spinquant.h"
#include "bench/shapes.h"
#include "mapping/archs/architectures.h"

ABSL_FLAG(std::string, shape, "small", "llama3-8b (4096 hidden, 14336 MLP, 32 layers) or small");
ABSL_FLAG(int, layers, 2, "decoder layers to rotate (the time per layer is extrapolated)");
ABSL_FLAG(std::string, rotations, "R1,R2", "SpinQuantModifier.rotations");
ABSL_FLAG(std::string, transform_type, "hadamard", "hadamard, random-hadamard or random-matrix");
ABSL_FLAG(std::string, device, "cpu", "cpu or cuda");

namespace {

using wring::backend::model::Weights;

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int layers = std::max(1, absl::GetFlag(FLAGS_layers));
  const wring::mapping::Json json = wring::bench::ShapeConfig(absl::GetFlag(FLAGS_shape), 0, "bfloat16");
  auto config = wring::backend::model::ParseModelConfig(json.dump(), "config.json");
  if (!config.ok()) return Fail(config.status());
  auto model = wring::mapping::ModelFromConfig(json, "config.json");
  if (!model.ok()) return Fail(model.status());
  wring::recipe::SpinQuantModifier modifier;
  for (absl::string_view r : absl::StrSplit(absl::GetFlag(FLAGS_rotations), ',')) modifier.add_rotations(std::string(r));
  modifier.set_transform_type(absl::GetFlag(FLAGS_transform_type));

  auto start = std::chrono::steady_clock::now();
  auto spin = wring::backend::spinquant::SpinQuant::Create(*model, modifier);
  if (!spin.ok()) return Fail(spin.status());
  const double create_seconds = Seconds(start);

  const torch::Device device(absl::GetFlag(FLAGS_device));
  const auto options = torch::TensorOptions().dtype(torch::kBFloat16).device(device);
  double layer_seconds = 0;
  for (int layer = 0; layer < layers; ++layer) {
    Weights weights;
    for (const auto& m : wring::backend::model::DecoderLayerModules(*config, layer)) {
      weights[m.name + ".weight"] = m.kind == wring::backend::model::LayerModule::kRmsNorm
                                        ? torch::rand({m.out_features}, options) + 0.5
                                        : torch::randn({m.out_features, m.in_features}, options);
    }
    wring::backend::compat::SynchronizeDevice(device);
    start = std::chrono::steady_clock::now();
    absl::Status status = (*spin)->TransformWeights(weights);
    wring::backend::compat::SynchronizeDevice(device);
    layer_seconds += Seconds(start);
    if (!status.ok()) return Fail(status);
  }

  Weights outside;
  outside["model.embed_tokens.weight"] = torch::randn({config->vocab_size, config->hidden_size}, options);
  outside["lm_head.weight"] = torch::randn({config->vocab_size, config->hidden_size}, options);
  outside["model.norm.weight"] = torch::rand({config->hidden_size}, options) + 0.5;
  wring::backend::compat::SynchronizeDevice(device);
  start = std::chrono::steady_clock::now();
  absl::Status status = (*spin)->TransformWeights(outside);
  wring::backend::compat::SynchronizeDevice(device);
  const double outside_seconds = Seconds(start);
  if (!status.ok()) return Fail(status);

  const double per_layer = layer_seconds / layers;
  const double full = create_seconds + outside_seconds + per_layer * config->num_hidden_layers;
  std::printf("shape %s, rotations %s, %s, bf16 on %s\n", absl::GetFlag(FLAGS_shape).c_str(),
              absl::GetFlag(FLAGS_rotations).c_str(), absl::GetFlag(FLAGS_transform_type).c_str(),
              device.str().c_str());
  std::printf("build matrices       %8.3f s\n", create_seconds);
  std::printf("decoder layer        %8.3f s each (%d timed)\n", per_layer, layers);
  std::printf("embedding + lm_head  %8.3f s\n", outside_seconds);
  std::printf("whole model          %8.3f s (%lld layers, weights generated outside the timing)\n", full,
              static_cast<long long>(config->num_hidden_layers));
  return 0;
}
