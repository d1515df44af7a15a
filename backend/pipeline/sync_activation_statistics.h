// QuantizationMixin.sync_obs_act_stats for one decoder layer: data-parallel
// workers each observed their own slice of the calibration samples; at the
// layer boundary, before any statistic becomes a qparam, every observer's
// statistics are combined across the workers so that all of them freeze the
// same activation and kv-cache qparams.
//
// How each observer combines (observe::Observer::sync, llm-compressor's
// _act_sync_dict):
//   static_minmax      MIN of min_vals, MAX of max_vals: exactly one
//                      worker's result over all samples;
//   minmax, mse        AVG of the running averages, as upstream (not what
//                      one worker over the same samples would get: the
//                      running average depends on the order);
//   memoryless_*       upstream combines nothing, so each of its ranks keeps
//                      its own last batch and rank 0 saves its own; wring
//                      takes the last rank's, which holds the last samples,
//                      so the result equals one worker's.
// One all-reduce per operation and one broadcast per layer, whatever the
// number of observers.
#ifndef WRING_BACKEND_PIPELINE_SYNC_ACTIVATION_STATISTICS_H_
#define WRING_BACKEND_PIPELINE_SYNC_ACTIVATION_STATISTICS_H_

#include "absl/status/status.h"
#include "backend/distributed/collectives.h"
#include "backend/pipeline/initialize_quantization.h"

namespace wring {
namespace backend {
namespace pipeline {

// A no-op in one process. Every worker must have observed the same
// observers (each worker calibrates at least one sample).
absl::Status SyncActivationStatistics(LayerQuantizers& quantizers,
                                      distributed::Collectives& collectives, int layer);

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_SYNC_ACTIVATION_STATISTICS_H_
