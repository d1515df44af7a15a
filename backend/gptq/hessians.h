// GPTQ's Hessians, accumulated during a layer's calibration pass as
// llm-compressor's calibrate_module hook does (2 X^T X in float32, counted
// per sample; backend/gram), and normalized by the sample count.
//
// Linears that read the same tensor (q/k/v; gate/up; MoE experts
// calibrated on every token) share one accumulation: upstream computes the
// identical matrix once per module, wring once per input. Sharing is found
// in the first calibration batch (a Linear whose input is the very tensor
// another one received joins its group) or declared with ShareInput. Each
// member still reports its input; the first report of a batch accumulates
// it, the others are checked to be that same tensor (an inconsistency is an
// error, never a silently wrong Hessian).
#ifndef WRING_BACKEND_GPTQ_HESSIANS_H_
#define WRING_BACKEND_GPTQ_HESSIANS_H_

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/distributed/collectives.h"
#include "backend/gram/input_gram.h"

namespace wring {
namespace backend {
namespace gptq {

class LayerHessians {
 public:
  // Declares that `names` read one tensor. Call before their first Add.
  absl::Status ShareInput(const std::vector<std::string>& names);

  // The calibration hook: `input` [..., in] is what `name` received.
  absl::Status Add(const std::string& name, const torch::Tensor& input);

  bool Contains(const std::string& name) const { return member_.count(name) > 0; }
  // Modules sharing `name`'s Hessian get the same index (for sharing one
  // factorization).
  int GroupOf(const std::string& name) const { return member_.at(name).group; }
  // H / num_samples (float32, on the inputs' device), shared by the group's
  // members; FailedPrecondition when `name` saw nothing or missed batches
  // the others saw.
  absl::StatusOr<torch::Tensor> Normalized(const std::string& name) const;
  int64_t Samples(const std::string& name) const;

  // Data-parallel workers: every rank ends with each group's matrix and
  // sample count over all ranks' inputs (the ranks calibrated the same
  // modules in the same order, so their groups agree). Call once, after
  // the calibration pass and before Normalized.
  absl::Status SumOverRanks(distributed::Collectives& collectives, absl::string_view what);

  // Drops everything (the layer is done).
  void Clear();

 private:
  struct Group {
    gram::InputGram gram{/*input_scale=*/1.4142135623730951};
    torch::Tensor last;  // the batch tensor accumulated last
    int64_t batches = 0;
  };
  struct Member {
    int group = -1;
    int64_t batches = 0;
  };
  std::vector<std::unique_ptr<Group>> groups_;
  std::map<std::string, Member> member_;
};

}  // namespace gptq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_GPTQ_HESSIANS_H_
