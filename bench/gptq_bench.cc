// Benchmark of GPTQ's per-layer work (never a timed test): the Hessians of
// every Linear accumulated from calibration inputs as the hooks deliver
// them, then the layer's solves (weight observer, factorization, column
// quantization with error feedback), on random bf16 weights and inputs of
// two shapes:
//   llama3-8b        one decoder layer: q/k/v/o_proj [4096 x 4096 / 1024 x
//                    4096], gate/up_proj [14336 x 4096], down_proj
//                    [4096 x 14336]; q/k/v read one input, gate/up another;
//   qwen3-30b-a3b    one MoE layer's experts (no router, no forward):
//                    --experts x gate/up_proj [768 x 2048] and down_proj
//                    [2048 x 768]; with llm-compressor's default
//                    moe_calibrate_all_experts every expert's gate/up read
//                    the same tokens, each down_proj its own activations.
// W4A16 (int4, group 128, symmetric), actorder static, block 128,
// dampening 0.01: GPTQModifier's defaults. bench/gptq_llmcompressor.py
// times llm-compressor 0.14's own functions on the same work;
// bench/gptq_side_by_side.sh runs both.
//
//   bazel run -c opt //bench:gptq_bench -- --shape=llama3-8b --samples=4 --seq_len=512
#include <sys/resource.h>

#include <chrono>
#include <set>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "backend/compat/torch_compat.h"
#include "backend/cpu_kernels/intra_op_threads.h"
#include "backend/cpu_kernels/openblas_core_type.h"
#include "backend/gptq/hessians.h"
#include "backend/gptq/quantize_modules.h"
#include "backend/quantize/quantize.h"

ABSL_FLAG(std::string, shape, "llama3-8b", "llama3-8b or qwen3-30b-a3b");
ABSL_FLAG(int, samples, 4, "calibration samples");
ABSL_FLAG(int, seq_len, 512, "tokens per sample");
ABSL_FLAG(int, experts, 128, "qwen3-30b-a3b: experts in the layer");
ABSL_FLAG(std::string, device, "cpu", "cpu or cuda");
ABSL_FLAG(std::string, batched, "auto", "batched_quantization: auto, none or a batch size");
ABSL_FLAG(int, threads, 0, "intra-op threads (0: as wring, the physical cores or OMP_NUM_THREADS)");

namespace {

using wring::backend::gptq::BatchedQuantization;
using wring::backend::gptq::GptqModule;
using wring::backend::gptq::GptqOptions;
using wring::backend::gptq::LayerHessians;
namespace quantize = wring::backend::quantize;

struct Linear {
  std::string name;
  int64_t out, in;
  int input;  // which calibration input it reads
};

double Seconds(std::chrono::steady_clock::time_point start, const torch::Device& device) {
  wring::backend::compat::SynchronizeDevice(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double PeakRssGiB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / (1024.0 * 1024.0);
}

int Run() {
  const std::string shape = absl::GetFlag(FLAGS_shape);
  const torch::Device device(absl::GetFlag(FLAGS_device));
  if (absl::GetFlag(FLAGS_threads) > 0) {
    torch::set_num_threads(absl::GetFlag(FLAGS_threads));
  } else {
    wring::backend::cpu_kernels::SetIntraOpThreads();  // as `wring` does
  }
  const int samples = absl::GetFlag(FLAGS_samples), seq_len = absl::GetFlag(FLAGS_seq_len);
  std::vector<Linear> linears;
  std::vector<int64_t> input_widths;
  // Inputs shared by every sample's hook calls, in hook order.
  if (shape == "llama3-8b") {
    input_widths = {4096, 4096, 4096, 14336};
    linears = {{"self_attn.q_proj", 4096, 4096, 0}, {"self_attn.k_proj", 1024, 4096, 0},
               {"self_attn.v_proj", 1024, 4096, 0}, {"self_attn.o_proj", 4096, 4096, 1},
               {"mlp.gate_proj", 14336, 4096, 2},   {"mlp.up_proj", 14336, 4096, 2},
               {"mlp.down_proj", 4096, 14336, 3}};
  } else if (shape == "qwen3-30b-a3b") {
    const int experts = absl::GetFlag(FLAGS_experts);
    input_widths = {2048};
    for (int e = 0; e < experts; ++e) {
      const std::string prefix = absl::StrCat("mlp.experts.", e, ".");
      input_widths.push_back(768);
      linears.push_back({prefix + "gate_proj", 768, 2048, 0});
      linears.push_back({prefix + "up_proj", 768, 2048, 0});
      linears.push_back({prefix + "down_proj", 2048, 768, e + 1});
    }
  } else {
    std::fprintf(stderr, "--shape: llama3-8b or qwen3-30b-a3b, got %s\n", shape.c_str());
    return 2;
  }
  BatchedQuantization batching;
  const std::string batched = absl::GetFlag(FLAGS_batched);
  if (batched == "none") {
    batching.mode = BatchedQuantization::Mode::kNone;
  } else if (batched != "auto") {
    batching.mode = BatchedQuantization::Mode::kLimit;
    batching.limit = std::stoi(batched);
  }

  torch::manual_seed(0);
  quantize::QuantizationArgs args;  // W4A16
  args.num_bits = 4;
  args.strategy = quantize::QuantizationStrategy::kGroup;
  args.group_size = 128;
  std::vector<GptqModule> modules;
  for (const Linear& l : linears) {
    GptqModule m;
    m.name = l.name;
    m.weight = (torch::randn({l.out, l.in}) * 0.02).to(device, torch::kBFloat16);
    m.args = args;
    m.args_key = "w4a16";
    modules.push_back(std::move(m));
  }

  LayerHessians hessians;
  double hessian_seconds = 0;
  for (int s = 0; s < samples; ++s) {
    std::vector<torch::Tensor> inputs;
    for (int64_t width : input_widths) {
      torch::Tensor x = torch::randn({1, seq_len, width});
      x.select(2, 7).mul_(20);  // an outlier channel
      inputs.push_back(x.to(device, torch::kBFloat16));
    }
    wring::backend::compat::SynchronizeDevice(device);
    const auto start = std::chrono::steady_clock::now();
    for (const Linear& l : linears) {
      const absl::Status added = hessians.Add(l.name, inputs[l.input]);
      if (!added.ok()) {
        std::fprintf(stderr, "%s\n", added.ToString().c_str());
        return 1;
      }
    }
    hessian_seconds += Seconds(start, device);
  }

  auto start = std::chrono::steady_clock::now();
  for (GptqModule& m : modules) {  // the weight observer (on_sequential_epoch_end)
    auto qparams = quantize::ComputeWeightQParams(m.weight, args);
    if (!qparams.ok()) {
      std::fprintf(stderr, "%s\n", qparams.status().ToString().c_str());
      return 1;
    }
    m.qparams = *qparams;
  }
  GptqOptions options;  // block 128, dampening 0.01, actorder static
  auto results = wring::backend::gptq::QuantizeModules(modules, hessians, options, batching, nullptr);
  const double solve_seconds = Seconds(start, device);
  if (!results.ok()) {
    std::fprintf(stderr, "%s\n", results.status().ToString().c_str());
    return 1;
  }
  double loss = 0;
  for (const auto& r : *results) loss += r.loss;
  std::set<int> groups;
  for (const Linear& l : linears) groups.insert(hessians.GroupOf(l.name));

  std::printf("wring GPTQ W4A16, %s layer, %zu Linears, %d x %d tokens, device %s, %d threads\n",
              shape.c_str(), linears.size(), samples, seq_len, device.str().c_str(),
              torch::get_num_threads());
  std::printf("  hessians: %zu accumulated for %zu Linears (shared inputs)  %8.2f s\n",
              groups.size(), linears.size(), hessian_seconds);
  std::printf("  solve (observer + factorization + quantization)         %8.2f s\n", solve_seconds);
  std::printf("  per layer                                               %8.2f s\n",
              hessian_seconds + solve_seconds);
  std::printf("  sum of logged losses %.6g; peak host memory %.2f GiB\n", loss, PeakRssGiB());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // What `wring` does first (bench numbers are wring's): OpenBLAS's CPU kernels.
  wring::backend::cpu_kernels::UseTheCpusKernelsAndThreads(argv);
  absl::ParseCommandLine(argc, argv);
  return Run();
}
