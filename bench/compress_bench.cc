// Benchmark of `wring compress` (never a timed test): calibrates a
// random-init Llama-shaped model (bf16) with random calibration tokens and
// prints wall time per stage and per decoder layer, peak host memory and,
// on CUDA builds, peak device memory.
//
//   bazel run -c opt //bench:compress_bench -- --shape=llama3-8b --layers=2
//       --samples=128 --seq_len=2048 --scheme=W4A16 --device=cuda
//
// --layers cuts the model to its first N decoder layers (the time per layer
// is what scales; the report extrapolates to the full depth). --awq puts an
// AWQModifier before the quantization; the bench then prints the grid
// search's matrix FLOPs (awq/search_flops.h), its time, and how far that is
// from the device's own matmul rate (measured here, in the dtype the search
// multiplies in: bf16 on CUDA, float32 BLAS on the CPU, and on a CPU with
// AMX tiles or AVX512-BF16 also that kernel's bf16 rate, which the
// Linears' forward losses and the factored Gram losses use).
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "backend/compat/torch_compat.h"
#include "backend/cpu_kernels/bf16_linear.h"
#include "backend/cpu_kernels/intra_op_threads.h"
#include "backend/cpu_kernels/openblas_core_type.h"
#include "backend/job/compress_job.h"
#include "backend/job/demo.h"
#include "bench/shapes.h"
#include "mapping/base/file.h"
#include "mapping/base/json.h"

ABSL_FLAG(std::string, shape, "small",
          "llama3-8b (4096 hidden, 14336 MLP, 32 layers), small, or one MoE layer: qwen3-30b-a3b, "
          "qwen3-next-80b-a3b");
ABSL_FLAG(int, layers, 0, "decoder layers to build (0: the shape's own)");
ABSL_FLAG(int, samples, 16, "calibration samples");
ABSL_FLAG(int, seq_len, 256, "tokens per sample");
ABSL_FLAG(std::string, scheme, "W4A16", "preset scheme (W4A16, W8A8, FP8, ...)");
ABSL_FLAG(std::string, device, "cpu", "cpu or cuda");
ABSL_FLAG(std::string, dtype, "bfloat16", "model dtype: bfloat16, float16 or float32");
ABSL_FLAG(bool, awq, false, "smooth with AWQModifier (default mappings) before quantizing");
ABSL_FLAG(int, n_grid, 20,
          "AWQModifier.n_grid (grid points per mapping); fewer gives a side-by-side number in "
          "minutes where llm-compressor's full grid takes hours on a small CPU");
ABSL_FLAG(bool, awq_forward_loss, false,
          "AWQ: a forward per candidate for Linear parents instead of the Gram form");
ABSL_FLAG(bool, keep_workdir, false,
          "keep the scratch directory (model, recipe, calibration data, output) to rerun "
          "`wring compress` on it, e.g. under a profiler");
ABSL_FLAG(std::string, workdir, "", "scratch directory (default: a new one under $TMPDIR)");

namespace {

namespace fs = std::filesystem;
using wring::mapping::Json;

// The process's peak resident memory since the last ResetPeakRss (VmHWM).
double PeakRssGiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / (1024.0 * 1024.0);
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / (1024.0 * 1024.0);
}

// Writing the random model is setup: its memory is not the compressor's.
// tcmalloc keeps what the writer freed until asked to return it, and Linux
// resets VmHWM on "5" to clear_refs.
void ResetPeakRss() {
  using Release = void (*)();
  if (auto release = reinterpret_cast<Release>(dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory"))) {
    release();
  }
  std::ofstream("/proc/self/clear_refs") << "5";
}

// FLOP/s of `multiply`, an n x n x n product, best of a few calls (the
// first warms up).
double BestFlopsPerSecond(int64_t n, const std::function<void()>& multiply) {
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    multiply();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (i > 0) best = std::max(best, 2.0 * n * n * n / seconds);
  }
  return best;
}

// FLOP/s of a square matmul on `device`.
double MatmulFlopsPerSecond(const std::string& device) {
  const torch::Device where(device);
  const torch::Dtype dtype = where.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  const int64_t n = where.is_cuda() ? 8192 : 1024;
  const torch::Tensor a = torch::randn({n, n}).to(where, dtype), b = torch::randn({n, n}).to(where, dtype);
  return BestFlopsPerSecond(n, [&] {
    wring::backend::compat::SynchronizeDevice(where);
    const torch::Tensor c = a.mm(b);
    wring::backend::compat::SynchronizeDevice(where);
  });
}

// FLOP/s of a square bf16 product by Bf16LinearToFloat32 (AMX tiles or
// AVX512-BF16: the kernel the Linears use); 0 where the CPU has neither.
double TilesFlopsPerSecond() {
  namespace cpu_kernels = wring::backend::cpu_kernels;
  if (!cpu_kernels::HasBf16Linear()) return 0;
  const int64_t n = 1024;
  const torch::Tensor a = torch::randn({n, n}).to(torch::kBFloat16), b = torch::randn({n, n}).to(torch::kBFloat16);
  bool ok = true;
  const double rate =
      BestFlopsPerSecond(n, [&] { ok = ok && cpu_kernels::Bf16LinearToFloat32(a, b, torch::Tensor()).ok(); });
  return ok ? rate : 0;
}

void PrintAwqSearch(const Json& quality, const std::string& device, int layers) {
  std::map<std::string, std::pair<double, double>> by_loss;  // loss -> flops, seconds
  std::map<std::string, std::pair<double, double>> by_layer;  // "layers.<i>" -> flops, seconds
  double flops = 0, seconds = 0;
  for (const Json& m : quality["awq"]) {
    if (!m.contains("search_flops")) continue;  // skipped mapping
    const std::string smooth = m["smooth_layer"].get<std::string>();
    const size_t at = smooth.find("layers.");
    auto& layer_entry = by_layer[at == std::string::npos ? smooth
                                                         : smooth.substr(at, smooth.find('.', at + 7) - at)];
    layer_entry.first += m["search_flops"].get<double>();
    layer_entry.second += m["search_seconds"].get<double>();
    auto& entry = by_loss[m["loss"].get<std::string>()];
    entry.first += m["search_flops"].get<double>();
    entry.second += m["search_seconds"].get<double>();
    flops += m["search_flops"].get<double>();
    seconds += m["search_seconds"].get<double>();
  }
  const double rate = MatmulFlopsPerSecond(device);
  std::printf("AWQ grid search (n_grid %d) %8.2f s  (%.2f s per decoder layer), %.3g matrix FLOPs\n",
              absl::GetFlag(FLAGS_n_grid), seconds,
              seconds / layers, flops);
  for (const auto& [loss, fs] : by_loss) {
    std::printf("  %-7s loss       %8.2f s, %.3g FLOPs, %.3g FLOP/s\n", loss.c_str(), fs.second,
                fs.first, fs.first / fs.second);
  }
  for (const auto& [layer, fs] : by_layer) {
    std::printf("  %-12s        %8.2f s, %.3g FLOPs\n", layer.c_str(), fs.second, fs.first);
  }
  std::printf("device matmul rate   %.3g FLOP/s (%s); the FLOP count needs %.2f s: ratio %.2fx\n",
              rate, device.c_str(), flops / rate, seconds / (flops / rate));
  if (const double tiles = device == "cpu" ? TilesFlopsPerSecond() : 0; tiles > 0) {
    std::printf("bf16 kernel rate     %.3g FLOP/s (the Linears' products); the FLOP count needs %.2f s: ratio %.2fx\n",
                tiles, flops / tiles, seconds / (flops / tiles));
  }
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

int main(int argc, char** argv) {
  // What `wring` does first (bench numbers are wring's): OpenBLAS's CPU kernels.
  wring::backend::cpu_kernels::UseTheCpusKernelsAndThreads(argv);
  wring::backend::cpu_kernels::SetIntraOpThreads();
  absl::ParseCommandLine(argc, argv);
  const Json config = wring::bench::ShapeConfig(absl::GetFlag(FLAGS_shape), absl::GetFlag(FLAGS_layers),
                                                absl::GetFlag(FLAGS_dtype));
  fs::path work = absl::GetFlag(FLAGS_workdir).empty()
                      ? fs::temp_directory_path() / absl::StrCat("wring-bench-", getpid())
                      : fs::path(absl::GetFlag(FLAGS_workdir));
  fs::create_directories(work / "model");

  auto start = std::chrono::steady_clock::now();
  auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  absl::Status written = wring::backend::job::WriteRandomInitModel(config, (work / "model").string());
  if (!written.ok()) {
    std::fprintf(stderr, "%s\n", std::string(written.message()).c_str());
    return 1;
  }
  const double write_seconds = seconds_since(start);
  ResetPeakRss();

  const int samples = absl::GetFlag(FLAGS_samples), seq_len = absl::GetFlag(FLAGS_seq_len);
  WriteText(work / "calibration.jsonl", wring::bench::RandomCalibrationJsonl(config, samples, seq_len));
  WriteText(work / "recipe.yaml",
            absl::StrCat("quant_stage:\n  quant_modifiers:\n",
                         absl::GetFlag(FLAGS_awq)
                             ? absl::StrCat("    AWQModifier: {n_grid: ", absl::GetFlag(FLAGS_n_grid), "}\n")
                             : "",
                         "    QuantizationModifier:\n"
                         "      targets: [Linear]\n      ignore: [lm_head",
                         // As llm-compressor's MoE examples: routers and
                         // the shared-expert gate stay unquantized.
                         wring::bench::IsMoeShape(absl::GetFlag(FLAGS_shape))
                             ? ", 're:.*mlp.gate$', 're:.*mlp.shared_expert_gate$'"
                             : "",
                         "]\n      scheme: ",
                         absl::GetFlag(FLAGS_scheme), "\n"));

  wring::backend::job::CompressOptions options;
  options.model_dir = (work / "model").string();
  options.recipe_path = (work / "recipe.yaml").string();
  options.dataset_path = (work / "calibration.jsonl").string();
  options.output_dir = (work / "out").string();
  options.device = absl::GetFlag(FLAGS_device);
  options.num_samples = samples;
  options.seq_len = seq_len;
  options.eval_samples = 0;
  options.shuffle = false;
  options.progress = nullptr;
  options.awq_forward_loss = absl::GetFlag(FLAGS_awq_forward_loss);

  start = std::chrono::steady_clock::now();
  const auto summary = wring::backend::job::RunCompressJob(options);
  const double compress_seconds = seconds_since(start);
  if (summary.failure != wring::backend::job::CompressFailure::kNone) {
    std::fprintf(stderr, "compress failed: %s\n", summary.message.c_str());
    return 1;
  }
  const int layers = config["num_hidden_layers"].get<int>();
  std::printf("shape %s, %d decoder layers, %d x %d tokens, %s on %s\n",
              absl::GetFlag(FLAGS_shape).c_str(), layers, samples, seq_len,
              absl::GetFlag(FLAGS_scheme).c_str(), options.device.c_str());
  std::printf("write random model   %8.2f s (setup, not compression)\n", write_seconds);
  std::printf("compress (total)     %8.2f s  (%.2f s per decoder layer; 32 layers: %.1f s)\n",
              compress_seconds, compress_seconds / layers, compress_seconds / layers * 32);
  std::printf("peak host memory     %8.2f GiB (compression only)\n", PeakRssGiB());
  const auto device_peak = wring::backend::compat::PeakDeviceMemoryBytes(options.device);
  if (device_peak.has_value()) {
    std::printf("peak device memory   %8.2f GiB\n", *device_peak / double(1 << 30));
  } else {
    std::printf("peak device memory        n/a (CPU build or CPU device)\n");
  }
  const std::string path = (work / "out" / "wring_quality.json").string();
  absl::StatusOr<std::string> text = wring::mapping::ReadFile(path, "quality report");
  if (!text.ok()) {
    std::fprintf(stderr, "%s\n", std::string(text.status().message()).c_str());
    return 1;
  }
  auto quality = wring::mapping::ParseJson(*text, path);
  if (!quality.ok()) {
    std::fprintf(stderr, "%s\n", std::string(quality.status().message()).c_str());
    return 1;
  }
  for (const Json& layer : (*quality)["layers"]) {
    std::printf("  decoder layer %-3d  %8.2f s\n", layer["layer"].get<int>(), layer["seconds"].get<double>());
  }
  if (absl::GetFlag(FLAGS_awq)) PrintAwqSearch(*quality, options.device, layers);
  if (absl::GetFlag(FLAGS_keep_workdir)) {
    std::printf("kept %s\n", work.string().c_str());
  } else {
    fs::remove_all(work);
  }
  return 0;
}
