#include "cli/compress_command.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "backend/interrupt/interrupt.h"
#include "backend/job/compress_job.h"
#include "backend/job/demo.h"
#include "cli/launch_command.h"

ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, recipe);
ABSL_FLAG(std::string, dataset, "",
          "compress: calibration data: .jsonl (input_ids or text per line) or .txt "
          "(samples separated by blank lines)");
ABSL_FLAG(std::string, output, "", "compress: directory to write the compressed checkpoint to");
ABSL_FLAG(std::string, device, "cpu", "compress: cpu, cuda or cuda:N");
ABSL_FLAG(int, num_samples, 512, "compress: calibration samples (--num-samples)");
ABSL_FLAG(int, seq_len, 384, "compress: tokens per sample, longer ones truncated (--seq-len)");
ABSL_FLAG(int, eval_samples, 8,
          "compress: held-out samples for the quality report (--eval-samples)");
ABSL_FLAG(uint64_t, seed, 42, "compress: seed for shuffling the samples");
ABSL_FLAG(bool, shuffle, true, "compress: shuffle the samples before choosing them");
ABSL_FLAG(bool, quiet, false, "compress: no progress on stderr");
ABSL_FLAG(bool, awq_forward_loss, false,
          "compress: score AWQ candidates of Linear parents (o_proj, down_proj) with a forward "
          "per candidate, as llm-compressor does, instead of the exact and faster Gram-matrix "
          "form; for bit-for-bit comparisons (--awq-forward-loss)");
ABSL_FLAG(bool, gptq_upstream_factorization, false,
          "compress: factorize each GPTQ Hessian as llm-compressor does (Cholesky, inverse, "
          "Cholesky of the inverse) instead of one Cholesky of the reversed Hessian: the same "
          "quantities rounded as upstream rounds them, for bit-for-bit comparisons; the solves "
          "take up to twice as long (--gptq-upstream-factorization)");
ABSL_FLAG(std::string, demo, "",
          "compress: run the whole path on a built-in tiny model and text, writing to DIR");

namespace wring {
namespace cli {
namespace {

namespace fs = std::filesystem;
using backend::job::CompressFailure;

int ExitStatus(CompressFailure failure) {
  switch (failure) {
    case CompressFailure::kNone:
      return 0;
    case CompressFailure::kRecipeWouldFail:
      return 1;
    case CompressFailure::kUnusableInput:
      return 2;
    case CompressFailure::kRuntime:
      return 3;
    case CompressFailure::kPeerFailed:
      return backend::distributed::kExitPeerFailed;
    case CompressFailure::kInterrupted:
      return 128 + backend::interrupt::StopSignal();
  }
  return 3;
}

// What this process is in the run: its messages' prefix ("wring: " or
// "wring: rank 2: "), whether it reports progress and results (rank 0
// only), and the workers' collectives.
struct Worker {
  std::string prefix = "wring: ";
  bool reports = true;
  backend::distributed::Collectives* collectives = nullptr;
  std::string device;
};

int Report(const backend::job::CompressSummary& summary, const Worker& worker) {
  if (summary.failure == CompressFailure::kInterrupted) {
    std::fprintf(stderr, "%s%s\n", worker.prefix.c_str(), summary.message.c_str());
    return ExitStatus(summary.failure);
  }
  if (summary.failure != CompressFailure::kNone) {
    std::fprintf(stderr, "%serror: %s\n", worker.prefix.c_str(), summary.message.c_str());
    return ExitStatus(summary.failure);
  }
  if (!worker.reports) return 0;
  std::printf("%s", summary.quality_text.c_str());
  std::printf("Wrote %s (load it with vLLM or transformers).\n", summary.output_dir.c_str());
  return 0;
}

backend::job::CompressOptions OptionsFromFlags(const Worker& worker) {
  backend::job::CompressOptions options;
  options.model_dir = absl::GetFlag(FLAGS_model);
  options.recipe_path = absl::GetFlag(FLAGS_recipe);
  options.dataset_path = absl::GetFlag(FLAGS_dataset);
  options.output_dir = absl::GetFlag(FLAGS_output);
  options.device = worker.device;
  options.collectives = worker.collectives;
  options.num_samples = absl::GetFlag(FLAGS_num_samples);
  options.seq_len = absl::GetFlag(FLAGS_seq_len);
  options.eval_samples = absl::GetFlag(FLAGS_eval_samples);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.shuffle = absl::GetFlag(FLAGS_shuffle);
  options.awq_forward_loss = absl::GetFlag(FLAGS_awq_forward_loss);
  options.gptq_upstream_factorization = absl::GetFlag(FLAGS_gptq_upstream_factorization);
  options.progress = absl::GetFlag(FLAGS_quiet) || !worker.reports ? nullptr : stderr;
  return options;
}

int RunDemo(const std::string& output_dir, const Worker& worker) {
  // The demo's inputs are scratch: they live beside nothing the user owns.
  std::error_code ec;
  fs::path work = fs::temp_directory_path(ec) / absl::StrCat("wring-demo-", ::getpid());
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);
  if (ec) {
    std::fprintf(stderr, "%serror: %s: cannot create the demo's work directory: %s\n",
                 worker.prefix.c_str(), work.string().c_str(), ec.message().c_str());
    return 3;
  }
  auto options = backend::job::PrepareDemo(work.string(), output_dir);
  if (!options.ok()) {
    std::fprintf(stderr, "%serror: preparing the demo: %s\n", worker.prefix.c_str(),
                 std::string(options.status().message()).c_str());
    fs::remove_all(work, ec);
    return 3;
  }
  options->device = worker.device;
  options->collectives = worker.collectives;
  options->progress = absl::GetFlag(FLAGS_quiet) || !worker.reports ? nullptr : stderr;
  if (options->progress != nullptr) {
    std::fprintf(stderr,
                 "wring compress --demo: a tiny random-weight Llama, built-in text, AWQ + W4A16 "
                 "recipe (inputs in %s)\n",
                 work.string().c_str());
  }
  const int status = Report(backend::job::RunCompressJob(*options), worker);
  fs::remove_all(work, ec);
  return status;
}

}  // namespace

const std::vector<std::string>& CompressFlagNames() {
  static const auto* names = [] {
    auto* list = new std::vector<std::string>{
        "dataset", "output", "device", "num_samples", "seq_len", "eval_samples",
        "seed",    "shuffle", "quiet", "demo", "awq_forward_loss", "gptq_upstream_factorization"};
    for (const std::string& name : LaunchFlagNames()) list->push_back(name);
    return list;
  }();
  return *names;
}

int RunCompress(int argc, char** argv) {
  const std::string demo = absl::GetFlag(FLAGS_demo);
  const std::string output = demo.empty() ? absl::GetFlag(FLAGS_output) : demo;
  // With --nproc this process only launches and watches the workers (it
  // stops them on SIGINT/SIGTERM itself); each worker installs its own
  // stop handlers below.
  if (std::optional<int> launched =
          MaybeLaunchWorkers(argc, argv, output, absl::GetFlag(FLAGS_quiet))) {
    return *launched;
  }
  absl::StatusOr<WorkerSetup> setup = SetUpWorker(absl::GetFlag(FLAGS_device));
  if (!setup.ok()) {
    const char* rank = std::getenv("RANK");
    const std::string who = rank != nullptr ? absl::StrCat("rank ", rank, ": ") : "";
    std::fprintf(stderr, "wring: %serror: %s\n", who.c_str(),
                 std::string(setup.status().message()).c_str());
    return backend::distributed::IsPeerFailure(setup.status())
               ? backend::distributed::kExitPeerFailed
               : 2;
  }
  Worker worker;
  worker.prefix = setup->message_prefix;
  worker.reports = setup->collectives->rank() == 0;
  worker.collectives = setup->collectives.get();
  worker.device = setup->device;
  if (absl::Status installed = backend::interrupt::InstallStopHandlers(); !installed.ok()) {
    std::fprintf(stderr, "%serror: %s\n", worker.prefix.c_str(),
                 std::string(installed.message()).c_str());
    return 3;
  }
  const int status = demo.empty()
                         ? Report(backend::job::RunCompressJob(OptionsFromFlags(worker)), worker)
                         : RunDemo(demo, worker);
  // Interrupted and cleaned up: end by the same signal, as a shell or a
  // scheduler expects of a program it stopped.
  const int signal = backend::interrupt::StopSignal();
  if (signal != 0 && status == 128 + signal) {
    std::fflush(nullptr);
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
  return status;
}

}  // namespace cli
}  // namespace wring
