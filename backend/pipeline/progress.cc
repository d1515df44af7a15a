#include "backend/pipeline/progress.h"

#include <unistd.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace wring {
namespace backend {
namespace pipeline {

Progress::Progress(std::FILE* out, int num_layers) : out_(out), num_layers_(num_layers) {
  terminal_ = out_ != nullptr && isatty(fileno(out_));
  start_ = Clock::now();
  last_emit_ = start_ - std::chrono::seconds(10);
}

double Progress::Elapsed() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

std::string Progress::FormatDuration(double seconds) {
  const long total = std::lround(seconds < 0 ? 0 : seconds);
  if (total >= 3600) return absl::StrFormat("%dh%02dm", total / 3600, (total % 3600) / 60);
  if (total >= 60) return absl::StrFormat("%dm%02ds", total / 60, total % 60);
  return absl::StrFormat("%ds", total);
}

void Progress::Emit(const std::string& line, bool force) {
  if (out_ == nullptr) return;
  const Clock::time_point now = Clock::now();
  if (!force && now - last_emit_ < std::chrono::seconds(1)) return;
  last_emit_ = now;
  if (terminal_) {
    std::fprintf(out_, "\r\033[K%s", line.c_str());
    line_open_ = true;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void Progress::Message(const std::string& line) {
  if (out_ == nullptr) return;
  if (line_open_) std::fputc('\n', out_);
  line_open_ = false;
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void Progress::Sample(int layer, const char* stage, int sample, int total) {
  std::string eta;
  if (layers_done_ > 0) {
    eta = absl::StrCat(", ETA ",
                       FormatDuration(Elapsed() / layers_done_ * (num_layers_ - layers_done_)));
  }
  Emit(absl::StrCat("layer ", layer + 1, "/", num_layers_, ": ", stage, " sample ", sample, "/",
                    total, ", elapsed ", FormatDuration(Elapsed()), eta),
       false);
}

void Progress::LayerDone(int layer) {
  layers_done_ = layer + 1;
  const double per_layer = Elapsed() / layers_done_;
  Emit(absl::StrCat("layer ", layer + 1, "/", num_layers_, " done, elapsed ",
                    FormatDuration(Elapsed()), ", ETA ",
                    FormatDuration(per_layer * (num_layers_ - layers_done_))),
       true);
}

void Progress::Finish() {
  if (out_ == nullptr) return;
  if (line_open_) std::fputc('\n', out_);
  line_open_ = false;
  std::fflush(out_);
}

}  // namespace pipeline
}  // namespace backend
}  // namespace wring
