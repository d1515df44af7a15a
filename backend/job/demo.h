// `wring compress --demo`: a complete compression run a newcomer can start
// with one command and no downloads. It writes a tiny Llama-architecture
// checkpoint (random weights from a fixed seed, wring's own small byte-level
// BPE tokenizer), built-in English calibration text and a W4A16 recipe into
// a work directory; the regular compress job then runs on them.
#ifndef WRING_BACKEND_JOB_DEMO_H_
#define WRING_BACKEND_JOB_DEMO_H_

#include <string>

#include "absl/status/statusor.h"
#include "backend/job/compress_job.h"
#include "mapping/base/json.h"

namespace wring {
namespace backend {
namespace job {

// Writes a checkpoint of `config` (a config.json object of a family
// mapping::ModelFromConfig knows) with transformers' random initialization
// (normal(0, 0.02) weights, unit norms) from a fixed seed, in bf16, into the
// existing directory `dir`. Also used by the compression benchmark.
absl::Status WriteRandomInitModel(const mapping::Json& config, const std::string& dir);

// Writes the demo inputs under `work_dir` (which must exist) and returns the
// options that compress them into `output_dir`.
absl::StatusOr<CompressOptions> PrepareDemo(const std::string& work_dir,
                                            const std::string& output_dir);

}  // namespace job
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_JOB_DEMO_H_
