// The config.json of the random Llama-shaped models the benchmarks build.
#ifndef WRING_BENCH_SHAPES_H_
#define WRING_BENCH_SHAPES_H_

#include <string>

#include "mapping/base/json.h"

namespace wring {
namespace bench {

// "llama3-8b" (4096 hidden, 14336 MLP, 32 x 8 heads of 128, 32 layers) or
// "small" (1024 hidden, 3584 MLP, 8 x 2 heads, 4 layers); `layers` > 0
// overrides the depth. The mixture-of-experts shapes have one layer of
// their model ("qwen3-30b-a3b": 128 experts, top-8, width 768) or two
// ("qwen3-next-80b-a3b": Gated DeltaNet + 512 experts, top-10, width 512 and a
// shared expert; then a full-attention layer with a dense MLP) and ignore
// `layers`.
mapping::Json ShapeConfig(const std::string& shape, int layers, const std::string& dtype);

bool IsMoeShape(const std::string& shape);

// `samples` lines of `{"input_ids": [...]}` with `seq_len` random token ids
// below the config's vocab_size (a fixed seed: every run calibrates alike).
std::string RandomCalibrationJsonl(const mapping::Json& config, int samples, int seq_len);

}  // namespace bench
}  // namespace wring

#endif  // WRING_BENCH_SHAPES_H_
