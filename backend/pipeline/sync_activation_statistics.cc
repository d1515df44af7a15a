#include "backend/pipeline/sync_activation_statistics.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace pipeline {
namespace {

using distributed::ReduceOp;
using observe::Observer;

std::vector<Observer*> LayerObservers(const LayerQuantizers& quantizers) {
  std::vector<Observer*> observers;
  for (const auto& [name, linear] : quantizers.linears) {
    for (Observer* o : linear->ActivationObservers()) observers.push_back(o);
  }
  for (const auto& [name, kv_cache] : quantizers.kv_caches) {
    for (Observer* o : kv_cache->Observers()) observers.push_back(o);
  }
  return observers;
}

}  // namespace

absl::Status SyncActivationStatistics(LayerQuantizers& quantizers,
                                      distributed::Collectives& collectives, int layer) {
  if (!collectives.is_distributed()) return absl::OkStatus();
  std::vector<torch::Tensor> mins, maxes, averages, latest;
  for (Observer* observer : LayerObservers(quantizers)) {
    const std::vector<torch::Tensor> stats = observer->statistics();
    if (stats.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "layer ", layer, ": an activation observer saw nothing on rank ", collectives.rank(),
          ", so the workers cannot combine their statistics"));
    }
    switch (observer->sync()) {
      case Observer::Sync::kMinMax:
        mins.push_back(stats[0]);
        maxes.push_back(stats[1]);
        break;
      case Observer::Sync::kAverage:
        averages.insert(averages.end(), stats.begin(), stats.end());
        break;
      case Observer::Sync::kNone:
        latest.insert(latest.end(), stats.begin(), stats.end());
        break;
    }
  }
  // Every rank built the same observers, so every rank skips the same calls.
  const std::string what = absl::StrCat("layer ", layer, " activation statistics");
  if (!mins.empty()) WRING_RETURN_IF_ERROR(collectives.AllReduce(mins, ReduceOp::kMin, what));
  if (!maxes.empty()) WRING_RETURN_IF_ERROR(collectives.AllReduce(maxes, ReduceOp::kMax, what));
  if (!averages.empty()) {
    WRING_RETURN_IF_ERROR(collectives.AllReduce(averages, ReduceOp::kAvg, what));
  }
  if (!latest.empty()) {
    WRING_RETURN_IF_ERROR(collectives.Broadcast(latest, collectives.world_size() - 1, what));
  }
  return absl::OkStatus();
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
