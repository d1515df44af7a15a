// How AWQ scores the grid candidates of a mapping whose parent is its only
// balance Linear (v_proj -> o_proj, up_proj -> down_proj). Its own header,
// free of LibTorch, so that the compression plan can carry the choice.
#ifndef WRING_BACKEND_AWQ_LINEAR_PARENT_LOSS_H_
#define WRING_BACKEND_AWQ_LINEAR_PARENT_LOSS_H_

namespace wring {
namespace backend {
namespace awq {

enum class LinearParentLoss {
  kCheaper,  // the Gram form when it needs fewer FLOPs (search_flops.h)
  kGram,     // always the exact Gram form (linear_gram.h)
  kForward,  // upstream's forward per candidate, for bit-for-bit comparisons
};

}  // namespace awq
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_AWQ_LINEAR_PARENT_LOSS_H_
