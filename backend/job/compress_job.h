// `wring compress`: everything between the command line and a finished
// compressed-tensors checkpoint.
//
//   1. read config.json and the recipe; run `wring check`'s validation on
//      the model's module tree and refuse a recipe that would fail, before
//      any weight is loaded;
//   2. plan which module gets which scheme and format;
//   3. tokenize the calibration and evaluation samples;
//   4. calibrate layer by layer (backend/pipeline);
//   5. write the checkpoint (safetensors, config.json with
//      quantization_config, recipe, tokenizer files, quality report) into a
//      staging directory renamed into place at the end.
#ifndef WRING_BACKEND_JOB_COMPRESS_JOB_H_
#define WRING_BACKEND_JOB_COMPRESS_JOB_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "backend/distributed/collectives.h"

namespace wring {
namespace backend {
namespace job {

struct CompressOptions {
  std::string model_dir;
  std::string recipe_path;
  std::string dataset_path;
  std::string output_dir;
  std::string device = "cpu";  // "cpu" or "cuda" / "cuda:N"
  // llm-compressor's oneshot defaults: 512 samples of up to 384 tokens,
  // shuffled.
  int num_samples = 512;
  int seq_len = 384;
  int eval_samples = 8;
  uint64_t seed = 42;
  bool shuffle = true;
  std::FILE* progress = stderr;  // nullptr: --quiet
  // AWQ: score Linear parents' candidates with upstream's forward per
  // candidate instead of the exact Gram form (--awq-forward-loss).
  bool awq_forward_loss = false;
  // GPTQ: factorize each Hessian as upstream does (Cholesky, inverse,
  // Cholesky) instead of one Cholesky of the reversed Hessian
  // (--gptq_upstream_factorization).
  bool gptq_upstream_factorization = false;
  // The largest safetensors shard, as save_pretrained's max_shard_size.
  uint64_t max_shard_bytes = uint64_t{5} << 30;
  // Data-parallel workers (llm-compressor's distributed oneshot), or null
  // for one process. Every worker runs this job with the same options
  // (each its own device): it calibrates its contiguous slice of the
  // samples, and only rank 0 claims and writes the output directory. The
  // collectives must outlive the call.
  distributed::Collectives* collectives = nullptr;
};

// Why a run did not produce a checkpoint, for the exit status.
enum class CompressFailure {
  kNone,
  kUnusableInput,     // exit 2: a file or flag is wrong (message says which)
  kRecipeWouldFail,   // exit 1: `wring check` found what llm-compressor would raise
  kRuntime,           // exit 3: the run itself failed (device, disk, NaN, ...)
  kPeerFailed,        // exit 4: another worker failed or stopped answering
  // SIGINT or SIGTERM (backend/interrupt) stopped the run; the staging
  // directory is gone. The CLI ends by the same signal (exit 128 + signal).
  kInterrupted,
};

struct CompressSummary {
  CompressFailure failure = CompressFailure::kNone;
  std::string message;  // the error, or the check report for kRecipeWouldFail
  std::string output_dir;
  // The human-readable quality report printed at the end (also in
  // wring_quality.json inside the checkpoint).
  std::string quality_text;
};

CompressSummary RunCompressJob(const CompressOptions& options);

}  // namespace job
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_JOB_COMPRESS_JOB_H_
