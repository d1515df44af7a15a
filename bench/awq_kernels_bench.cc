// Benchmark of the AWQ grid search's per-candidate kernels (never a timed
// test), on one MoE expert of Qwen3-30B-A3B's shape (gate/up_proj
// [768 x 2048], down_proj [2048 x 768]), bf16, W4A16 (int4, group 128,
// symmetric):
//   candidate        CandidateWeight in each form a loss takes: bf16 (the
//                    tiles' Linears and the factored Gram loss), float32
//                    values (a float32 product), the float32 difference
//                    to the weight (LinearGram);
//   gram loss        down_proj's candidate loss: LinearGram by BLAS's ssyrk
//                    and by LibTorch's blocks, and on a CPU with AMX or
//                    AVX512-BF16 FactoredGramLoss on its bf16 kernel (from the whole
//                    candidate, and from its rows as the search makes them);
//   linear           the bf16 products of an MoE layer ([tokens x in] x
//                    [out x in]^T): through float32 (upcast, sgemm, round)
//                    and, on a CPU with AMX or AVX512-BF16, by its bf16
//                    kernel (bf16_linear.h);
//   expert step      one expert's share of a grid point as the layer runs
//                    it: its gate and up candidates through the forward of
//                    --routed tokens (down_proj as stored; on the tiles where
//                    the CPU has them, as the layer does), then its down
//                    candidate through the Gram loss (factored on the tiles,
//                    from its rows); LibTorch's threads and
//                    BLAS's take turns, as in the layer, so thread settings
//                    (OPENBLAS_THREAD_TIMEOUT) show here.
// Each line: the fastest and the median of --reps calls (a shared host's
// load moves the median; the fastest is the kernel's own speed), and the
// rate the fastest implies.
//
//   bazel run -c opt //bench:awq_kernels_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "backend/awq/apply_scales.h"
#include "backend/awq/candidate_weight.h"
#include "backend/awq/factored_gram_loss.h"
#include "backend/awq/linear_gram.h"
#include "backend/cpu_kernels/bf16_linear.h"
#include "backend/cpu_kernels/intra_op_threads.h"
#include "backend/cpu_kernels/openblas_core_type.h"

ABSL_FLAG(int, reps, 40, "timed calls per kernel (the median is printed)");
ABSL_FLAG(int, tokens, 2048, "calibration tokens behind the Gram matrix");
ABSL_FLAG(int, routed, 128, "tokens routed to the expert in the expert step");

namespace {

namespace awq = wring::backend::awq;
namespace cpu_kernels = wring::backend::cpu_kernels;
namespace quantize = wring::backend::quantize;

struct Timing {
  double fastest, median;
};

Timing Time(const std::function<void()>& call) {
  call();  // warm-up: allocations, caches
  std::vector<double> seconds;
  for (int i = 0; i < absl::GetFlag(FLAGS_reps); ++i) {
    const auto start = std::chrono::steady_clock::now();
    call();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return {seconds.front(), seconds[seconds.size() / 2]};
}

void Check(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
    std::exit(1);
  }
}

int Run() {
  wring::backend::cpu_kernels::SetIntraOpThreads();  // as `wring` does
  torch::manual_seed(0);
  quantize::QuantizationArgs args;
  args.num_bits = 4;
  args.symmetric = true;
  args.strategy = quantize::QuantizationStrategy::kGroup;
  args.group_size = 128;
  const torch::Tensor up = (torch::randn({768, 2048}) * 0.02).to(torch::kBFloat16);
  const torch::Tensor down = (torch::randn({2048, 768}) * 0.02).to(torch::kBFloat16);
  const torch::Tensor up_scales = torch::rand({2048}, torch::kDouble) + 0.5;
  const torch::Tensor down_scales = torch::rand({768}, torch::kDouble) + 0.5;
  std::printf("%d intra-op threads, %d calls each\n", at::get_num_threads(), absl::GetFlag(FLAGS_reps));

  for (const auto& [name, form] : {std::make_pair("bf16", awq::CandidateForm::kWeightDtype),
                                   std::make_pair("float32", awq::CandidateForm::kFloat32),
                                   std::make_pair("float32 difference", awq::CandidateForm::kFloat32Difference)}) {
    const Timing t = Time([&, form = form] { Check(awq::CandidateWeight(up, up_scales, args, form).status()); });
    std::printf("candidate [768 x 2048] %-20s %8.3f ms (median %8.3f)  %6.3f ns/weight\n", name,
                t.fastest * 1e3, t.median * 1e3, t.fastest * 1e9 / static_cast<double>(up.numel()));
  }
  {
    // Applying one expert mapping's best scales: down_proj's columns times
    // s, up_proj's rows divided by it.
    const Timing ops = Time([&] {
      const torch::Tensor balanced = (down * down_scales.view({1, -1})).to(torch::kBFloat16);
      const torch::Tensor smoothed = (up.to(torch::kDouble) / down_scales.view({-1, 1})).to(torch::kBFloat16);
    });
    const Timing one_pass = Time([&] {
      const torch::Tensor balanced = awq::MultiplyColumns(down, down_scales);
      const torch::Tensor smoothed = awq::DivideRows(up, down_scales);
    });
    std::printf(
        "apply best scales [2048 x 768] + [768 x 2048]  tensor ops %8.3f ms, one pass %8.3f ms (median %.3f, %.3f)\n",
        ops.fastest * 1e3, one_pass.fastest * 1e3, ops.median * 1e3, one_pass.median * 1e3);
  }
  {
    // As an MoE layer's search meets them: each expert's weight once per grid
    // point, hundreds of megabytes apart, so read from memory, not the cache.
    std::vector<torch::Tensor> experts;
    for (int e = 0; e < 256; ++e) experts.push_back((torch::randn({768, 2048}) * 0.02).to(torch::kBFloat16));
    size_t next = 0;
    const Timing t = Time([&] {
      for (int i = 0; i < 32; ++i) {
        Check(awq::CandidateWeight(experts[next], up_scales, args, awq::CandidateForm::kWeightDtype).status());
        next = (next + 1) % experts.size();
      }
    });
    std::printf("candidate [768 x 2048] %-20s %8.3f ms (median %8.3f)  256 weights in turn\n", "bf16, from memory",
                t.fastest * 1e3 / 32, t.median * 1e3 / 32);
  }

  const torch::Tensor inputs = torch::randn({absl::GetFlag(FLAGS_tokens), 768}).to(torch::kBFloat16);
  for (const bool blas : {true, false}) {
    awq::LinearGram gram(blas);
    Check(gram.Add(inputs));
    const torch::Tensor difference =
        *awq::CandidateWeight(down, down_scales, args, awq::CandidateForm::kFloat32Difference);
    const Timing t = Time([&] { Check(gram.MeanSquaredOutput(difference).status()); });
    // One triangle, or 256-column blocks from the diagonal rightwards.
    const double flops = blas ? 2048.0 * 768 * 769 : 2.0 * 2048 * 256 * (768 + 512 + 256);
    std::printf("gram loss [2048 x 768] %-20s %8.3f ms (median %8.3f)  %6.1f GFLOP/s\n",
                blas ? "BLAS ssyrk" : "LibTorch blocks", t.fastest * 1e3, t.median * 1e3, flops / t.fastest / 1e9);
  }
  awq::LinearGram down_gram;
  Check(down_gram.Add(inputs));
  const absl::StatusOr<std::optional<awq::FactoredGramLoss>> factored = awq::FactoredGramLoss::Make(down_gram, down);
  Check(factored.status());
  if (factored->has_value()) {
    const Timing make = Time([&] { Check(awq::FactoredGramLoss::Make(down_gram, down).status()); });
    std::printf("gram loss [2048 x 768] %-20s %8.3f ms (median %8.3f)  once per mapping\n", "factoring G",
                make.fastest * 1e3, make.median * 1e3);
    const torch::Tensor candidate = *awq::CandidateWeight(down, down_scales, args);
    const Timing t = Time([&] { Check((*factored)->MeanSquaredOutput(candidate).status()); });
    std::printf("gram loss [2048 x 768] %-20s %8.3f ms (median %8.3f)  %6.1f GFLOP/s\n", "factored, bf16 kernel",
                t.fastest * 1e3, t.median * 1e3, awq::FactoredGramLossFlops(2048, 768) / t.fastest / 1e9);
    // As the grid search runs it: the candidate made row block by row block
    // inside the product (so this includes the candidate's own cost).
    const Timing rows = Time([&] {
      Check((*factored)->MeanSquaredOutput(**awq::CandidateRows::Make(down, down_scales, args)).status());
    });
    std::printf("gram loss [2048 x 768] %-20s %8.3f ms (median %8.3f)  candidate included\n",
                "candidate rows", rows.fastest * 1e3, rows.median * 1e3);
  } else {
    std::printf("gram loss factored: neither AMX nor AVX512-BF16 here (or turned off)\n");
  }

  const int64_t routed_tokens = absl::GetFlag(FLAGS_routed), all_tokens = absl::GetFlag(FLAGS_tokens);
  const bool tiles = cpu_kernels::HasBf16Linear();
  // A CPU bf16 Linear as the layer computes it: float32 sums, rounded once.
  const auto linear = [tiles](const torch::Tensor& x, const torch::Tensor& w) {
    if (tiles && w.scalar_type() == torch::kBFloat16) {
      return cpu_kernels::Bf16LinearToFloat32(x, w, torch::Tensor())->to(torch::kBFloat16);
    }
    return torch::linear(x.to(torch::kFloat), w.to(torch::kFloat)).to(torch::kBFloat16);
  };
  for (const auto& [rows, in, out] : {std::make_tuple(routed_tokens, int64_t{2048}, int64_t{768}),
                                      std::make_tuple(routed_tokens, int64_t{768}, int64_t{2048}),
                                      std::make_tuple(all_tokens, int64_t{2048}, int64_t{768})}) {
    const torch::Tensor x = torch::randn({rows, in}).to(torch::kBFloat16);
    const torch::Tensor w = (torch::randn({out, in}) * 0.02).to(torch::kBFloat16);
    const double flops = 2.0 * static_cast<double>(rows * in * out);
    const Timing f32 = Time([&] { torch::linear(x.to(torch::kFloat), w.to(torch::kFloat)).to(torch::kBFloat16); });
    std::printf("linear [%4ld x %4ld] x [%4ld]  float32 sgemm  %8.3f ms (median %8.3f)  %6.1f GFLOP/s\n",
                static_cast<long>(rows), static_cast<long>(in), static_cast<long>(out), f32.fastest * 1e3,
                f32.median * 1e3, flops / f32.fastest / 1e9);
    if (!tiles) continue;
    const Timing amx = Time([&] { Check(cpu_kernels::Bf16LinearToFloat32(x, w, torch::Tensor()).status()); });
    std::printf("linear [%4ld x %4ld] x [%4ld]  bf16 kernel    %8.3f ms (median %8.3f)  %6.1f GFLOP/s\n",
                static_cast<long>(rows), static_cast<long>(in), static_cast<long>(out), amx.fastest * 1e3,
                amx.median * 1e3, flops / amx.fastest / 1e9);
  }
  if (!tiles) std::printf("bf16 linear kernel: neither AMX nor AVX512-BF16 here (or turned off)\n");

  const torch::Tensor gate = (torch::randn({768, 2048}) * 0.02).to(torch::kBFloat16);
  const torch::Tensor routed = torch::randn({routed_tokens, 2048}).to(torch::kBFloat16);
  awq::LinearGram gram;
  Check(gram.Add(inputs));
  const awq::CandidateForm form = tiles ? awq::CandidateForm::kWeightDtype : awq::CandidateForm::kFloat32;
  const Timing step = Time([&] {
    const torch::Tensor g = linear(routed, *awq::CandidateWeight(gate, up_scales, args, form));
    const torch::Tensor u = linear(routed, *awq::CandidateWeight(up, up_scales, args, form));
    const torch::Tensor h = (torch::silu(g) * u).to(torch::kBFloat16);
    const torch::Tensor y = linear(h, down);
    if (factored->has_value()) {
      Check((*factored)->MeanSquaredOutput(**awq::CandidateRows::Make(down, down_scales, args)).status());
    } else {
      Check(gram.MeanSquaredOutput(
                    *awq::CandidateWeight(down, down_scales, args, awq::CandidateForm::kFloat32Difference))
                .status());
    }
  });
  std::printf("expert step (%d routed tokens)        %8.3f ms (median %8.3f)\n", absl::GetFlag(FLAGS_routed),
              step.fastest * 1e3, step.median * 1e3);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  wring::backend::cpu_kernels::UseTheCpusKernelsAndThreads(argv);
  absl::ParseCommandLine(argc, argv);
  return Run();
}
