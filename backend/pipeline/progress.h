// Progress of a long calibration run on stderr: which layer, how many
// samples, elapsed time and an ETA extrapolated from the layers done so far.
//
// Calibration of a real model takes hours; users watch this line to decide
// whether to wait. Updates are throttled to one per second, rewritten in
// place on a terminal and printed as plain lines otherwise (CI logs).
#ifndef WRING_BACKEND_PIPELINE_PROGRESS_H_
#define WRING_BACKEND_PIPELINE_PROGRESS_H_

#include <chrono>
#include <cstdio>
#include <string>

namespace wring {
namespace backend {
namespace pipeline {

class Progress {
 public:
  // `out` nullptr silences everything (--quiet).
  Progress(std::FILE* out, int num_layers);

  void Message(const std::string& line);
  // `stage` is e.g. "calibrating"; `sample` counts from 1 to `total`, the
  // number of samples that stage goes through.
  void Sample(int layer, const char* stage, int sample, int total);
  void LayerDone(int layer);
  void Finish();

  // "1h02m", "3m05s", "12s".
  static std::string FormatDuration(double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  double Elapsed() const;
  void Emit(const std::string& line, bool force);

  std::FILE* out_;
  bool terminal_ = false;
  int num_layers_;
  int layers_done_ = 0;
  bool line_open_ = false;
  Clock::time_point start_;
  Clock::time_point last_emit_;
};

}  // namespace pipeline
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_PIPELINE_PROGRESS_H_
