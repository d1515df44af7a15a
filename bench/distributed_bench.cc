// Benchmark of data-parallel `wring compress` (never a timed test): the same
// AWQ + W4A16 job on a random-init Llama-shaped model with 1, 2, 4, ...
// workers, each run's wall time and every rank's peak resident memory.
//
//   bazel run -c opt //bench:distributed_bench -- --nproc=1,2,4 --layers=2 --samples=16 --seq_len=256
//
// The workers are copies of this binary started the way `wring compress
// --nproc N` starts them (backend/distributed/local_launcher.h: Gloo over
// 127.0.0.1), so process start-up and the rendezvous count. On a multi-GPU
// host, the same job runs one worker per GPU with the CUDA build:
//   build-cuda/wring compress --nproc 4 --device cuda --model M --recipe R --dataset D --output OUT
// or under torchrun (torchrun --nproc-per-node 4 build-cuda/wring compress
// --device cuda ...); this benchmark prints that line for its own inputs.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "backend/cpu_kernels/intra_op_threads.h"
#include "backend/cpu_kernels/openblas_core_type.h"
#include "backend/distributed/c10d_collectives.h"
#include "backend/distributed/local_launcher.h"
#include "backend/distributed/worker_environment.h"
#include "backend/job/compress_job.h"
#include "backend/job/demo.h"
#include "bench/shapes.h"
#include "mapping/base/json.h"

ABSL_FLAG(std::string, shape, "small", "llama3-8b or small (1024 hidden, 3584 MLP)");
ABSL_FLAG(int, layers, 2, "decoder layers to build (0: the shape's own)");
ABSL_FLAG(int, samples, 16, "calibration samples (split between the workers)");
ABSL_FLAG(int, seq_len, 256, "tokens per sample");
ABSL_FLAG(std::string, nproc, "1,2,4", "worker counts to run, comma-separated");
ABSL_FLAG(int, repeats, 1, "runs per worker count (the median is printed)");
ABSL_FLAG(std::string, workdir, "", "scratch directory (default: a new one under $TMPDIR)");

namespace {

namespace fs = std::filesystem;
using wring::mapping::Json;
namespace distributed = wring::backend::distributed;

constexpr char kWorkdirVar[] = "WRING_DISTRIBUTED_BENCH_WORKDIR";
constexpr char kOutputVar[] = "WRING_DISTRIBUTED_BENCH_OUTPUT";

wring::backend::job::CompressOptions JobOptions(const fs::path& work, const std::string& out) {
  wring::backend::job::CompressOptions options;
  options.model_dir = (work / "model").string();
  options.recipe_path = (work / "recipe.yaml").string();
  options.dataset_path = (work / "calibration.jsonl").string();
  options.output_dir = out;
  options.num_samples = absl::GetFlag(FLAGS_samples);
  options.seq_len = absl::GetFlag(FLAGS_seq_len);
  options.eval_samples = 0;
  options.shuffle = false;
  options.progress = nullptr;
  return options;
}

// A worker: joins the launcher's group and runs the job on its slice.
int RunWorker(const fs::path& work, const std::string& out) {
  auto env = distributed::WorkerEnvironmentFromEnv();
  if (!env.ok() || !env->has_value()) {
    std::fprintf(stderr, "worker: no distributed environment\n");
    return 1;
  }
  auto collectives = distributed::ConnectCollectives(**env, distributed::ConnectOptions());
  if (!collectives.ok()) {
    std::fprintf(stderr, "worker: %s\n", std::string(collectives.status().message()).c_str());
    return 4;
  }
  wring::backend::job::CompressOptions options = JobOptions(work, out);
  options.collectives = collectives->get();
  const auto summary = wring::backend::job::RunCompressJob(options);
  if (summary.failure != wring::backend::job::CompressFailure::kNone) {
    std::fprintf(stderr, "rank %d: %s\n", (*env)->rank, summary.message.c_str());
    return 3;
  }
  return 0;
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  // What `wring` does first (bench numbers are wring's): OpenBLAS's CPU kernels.
  wring::backend::cpu_kernels::UseTheCpusKernelsAndThreads(argv);
  wring::backend::cpu_kernels::SetIntraOpThreads();
  absl::ParseCommandLine(argc, argv);
  if (const char* work = std::getenv(kWorkdirVar)) return RunWorker(work, std::getenv(kOutputVar));

  const Json config = wring::bench::ShapeConfig(absl::GetFlag(FLAGS_shape),
                                                absl::GetFlag(FLAGS_layers), "bfloat16");
  const fs::path work = absl::GetFlag(FLAGS_workdir).empty()
                            ? fs::temp_directory_path() / absl::StrCat("wring-dbench-", getpid())
                            : fs::path(absl::GetFlag(FLAGS_workdir));
  fs::create_directories(work / "model");
  absl::Status written = wring::backend::job::WriteRandomInitModel(config, (work / "model").string());
  if (!written.ok()) {
    std::fprintf(stderr, "%s\n", std::string(written.message()).c_str());
    return 1;
  }
  const int samples = absl::GetFlag(FLAGS_samples), seq_len = absl::GetFlag(FLAGS_seq_len);
  WriteText(work / "calibration.jsonl", wring::bench::RandomCalibrationJsonl(config, samples, seq_len));
  WriteText(work / "recipe.yaml",
            "quant_stage:\n  quant_modifiers:\n    AWQModifier: {}\n    QuantizationModifier:\n"
            "      targets: [Linear]\n      ignore: [lm_head]\n      scheme: W4A16\n");

  const int layers = config["num_hidden_layers"].get<int>();
  std::printf("shape %s, %d decoder layers, %d x %d tokens, AWQ + W4A16 on the CPU, %ld cores\n",
              absl::GetFlag(FLAGS_shape).c_str(), layers, samples, seq_len,
              sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%7s  %10s  %10s  %s\n", "workers", "wall (s)", "speed-up", "peak RSS per rank (GiB)");
  double one_worker = 0;
  for (absl::string_view count : absl::StrSplit(absl::GetFlag(FLAGS_nproc), ',')) {
    int nproc = 0;
    if (!absl::SimpleAtoi(count, &nproc) || nproc < 1) {
      std::fprintf(stderr, "--nproc: '%s' is not a worker count\n", std::string(count).c_str());
      return 1;
    }
    std::vector<double> walls;
    std::vector<int64_t> peaks(nproc, 0);
    for (int repeat = 0; repeat < absl::GetFlag(FLAGS_repeats); ++repeat) {
      const std::string out = (work / absl::StrCat("out-", nproc, "-", repeat)).string();
      distributed::LaunchOptions options;
      options.program = "/proc/self/exe";
      options.argv.assign(argv, argv + argc);  // the workers read the same flags
      options.nproc = nproc;
      options.env = {{kWorkdirVar, work.string()}, {kOutputVar, out}};
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<distributed::LaunchOutcome> run = distributed::LaunchLocalWorkers(options);
      walls.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (!run.ok() || run->exit_status != 0) {
        std::fprintf(stderr, "%d workers failed: %s\n", nproc,
                     run.ok() ? run->message.c_str() : std::string(run.status().message()).c_str());
        return 1;
      }
      for (const distributed::WorkerOutcome& w : run->workers) {
        peaks[w.rank] = std::max(peaks[w.rank], w.peak_rss_bytes);
      }
      fs::remove_all(out);
    }
    const double wall = Median(walls);
    if (nproc == 1) one_worker = wall;
    std::string memory;
    for (int64_t peak : peaks) {
      absl::StrAppend(&memory, memory.empty() ? "" : " ",
                      absl::StrFormat("%.2f", peak / double(1 << 30)));
    }
    std::printf("%7d  %10.2f  %10s  %s\n", nproc, wall,
                one_worker > 0 ? absl::StrFormat("%.2fx", one_worker / wall).c_str() : "-",
                memory.c_str());
  }
  std::printf("\nOn a host with 4 GPUs (CUDA build, one worker per GPU over NCCL):\n"
              "  build-cuda/wring compress --nproc 4 --device cuda --model %s --recipe %s \\\n"
              "      --dataset %s --num-samples %d --seq-len %d --eval-samples 0 --noshuffle \\\n"
              "      --output OUT\n"
              "  (or: torchrun --nproc-per-node 4 build-cuda/wring compress --device cuda ...)\n",
              (work / "model").c_str(), (work / "recipe.yaml").c_str(),
              (work / "calibration.jsonl").c_str(), samples, seq_len);
  if (absl::GetFlag(FLAGS_workdir).empty()) fs::remove_all(work);
  return 0;
}
