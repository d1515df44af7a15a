// Fuzzes the calibration dataset reader (backend/data/calibration_data.h):
// every input is read both as .jsonl and as .txt, tokenized with the demo
// tokenizer, and the result checked against the options (sample counts,
// truncation, shuffle as a permutation).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "backend/data/calibration_data.h"
#include "backend/data/demo_data.h"
#include "backend/data/tokenizer.h"
#include "fuzz/internal/fuzz_check.h"

namespace {

using wring::backend::data::CalibrationData;
using wring::backend::data::CalibrationFormat;
using wring::backend::data::CalibrationOptions;
using wring::backend::data::CalibrationSample;
using wring::backend::data::Tokenizer;

const Tokenizer& DemoTokenizer() {
  static const auto* tokenizer = [] {
    absl::StatusOr<Tokenizer> loaded =
        Tokenizer::FromJson(wring::backend::data::DemoTokenizerJson(), "tokenizer.json");
    WRING_FUZZ_CHECK(loaded.ok(), "the demo tokenizer loads");
    return new Tokenizer(*std::move(loaded));
  }();
  return *tokenizer;
}

void CheckSamples(const std::vector<CalibrationSample>& samples, int64_t count,
                  int64_t seq_len) {
  WRING_FUZZ_CHECK(static_cast<int64_t>(samples.size()) <= count, "no more samples than asked");
  for (const CalibrationSample& sample : samples) {
    WRING_FUZZ_CHECK(!sample.input_ids.empty(), "samples are never empty");
    WRING_FUZZ_CHECK(static_cast<int64_t>(sample.input_ids.size()) <= seq_len,
                     "samples are truncated to seq_len");
    for (int64_t id : sample.input_ids) WRING_FUZZ_CHECK(id >= 0, "ids are non-negative");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view contents(reinterpret_cast<const char*>(data), size);
  CalibrationOptions options;
  options.num_samples = 4;
  options.eval_samples = 2;
  options.seq_len = 24;
  options.shuffle = size % 2 == 0;
  options.seed = size;
  for (CalibrationFormat format : {CalibrationFormat::kJsonLines, CalibrationFormat::kText}) {
    absl::StatusOr<CalibrationData> read = wring::backend::data::ParseCalibrationData(
        contents, format, "data.jsonl", &DemoTokenizer(), options);
    if (!read.ok()) {
      WRING_FUZZ_CHECK(absl::StrContains(read.status().message(), "data.jsonl"),
                       "a dataset error names the file");
      continue;
    }
    CheckSamples(read->calibration, options.num_samples, options.seq_len);
    CheckSamples(read->evaluation, options.eval_samples, options.seq_len);
    WRING_FUZZ_CHECK(read->records_available >= static_cast<int64_t>(read->calibration.size() +
                                                                     read->evaluation.size()),
                     "every sample comes from a record");
    std::vector<int64_t> order = wring::backend::data::ShuffledOrder(read->records_available, options.seed);
    std::sort(order.begin(), order.end());
    for (int64_t i = 0; i < read->records_available; ++i) {
      WRING_FUZZ_CHECK(order[i] == i, "the shuffle is a permutation");
    }
  }
  return 0;
}
