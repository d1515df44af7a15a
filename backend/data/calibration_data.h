// Calibration and held-out evaluation samples for `wring compress`, read
// from a user's file (or the built-in demo text) and tokenized like
// llm-compressor's dataset preparation.
//
// Formats, chosen by extension:
//   .jsonl  one JSON object per line, with "input_ids" (array of integers,
//           used as given) or "text" (string, tokenized); blank lines skipped
//   .txt    plain text, samples separated by one or more blank lines
// Steps: records are read in file order and empty ones dropped (empty text,
// empty input_ids); with `shuffle`, the record order is permuted by
// ShuffledOrder(count, seed); the first `num_samples` records that tokenize
// to at least one id become calibration samples, the next `eval_samples`
// evaluation samples. Each is truncated to `seq_len` ids like
// max_seq_length (text: cut before adding the template's special tokens,
// which always stay; input_ids: the first seq_len ids).
#ifndef WRING_BACKEND_DATA_CALIBRATION_DATA_H_
#define WRING_BACKEND_DATA_CALIBRATION_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backend/data/tokenizer.h"

namespace wring {
namespace backend {
namespace data {

struct CalibrationSample {
  std::vector<int64_t> input_ids;
};

struct CalibrationOptions {
  int64_t num_samples = 512;   // llm-compressor's num_calibration_samples
  int64_t eval_samples = 0;    // held out after the calibration samples
  int64_t seq_len = 2048;      // max_seq_length; <= 0 keeps every id
  bool shuffle = true;         // shuffle_calibration_samples
  uint64_t seed = 42;
  bool add_special_tokens = true;
};

struct CalibrationData {
  std::vector<CalibrationSample> calibration;
  std::vector<CalibrationSample> evaluation;
  // Non-empty records in the source; fewer than num_samples + eval_samples
  // means every record was used (the caller may warn, as upstream does).
  int64_t records_available = 0;
};

enum class CalibrationFormat { kJsonLines, kText };

// Reads `path` (format from its extension). `tokenizer` may be null when
// every record has input_ids; a text record then is an error.
absl::StatusOr<CalibrationData> LoadCalibrationData(const std::string& path,
                                                    const Tokenizer* tokenizer,
                                                    const CalibrationOptions& options);

// Same from contents already in memory; `source_name` prefixes errors.
absl::StatusOr<CalibrationData> ParseCalibrationData(absl::string_view contents,
                                                     CalibrationFormat format,
                                                     absl::string_view source_name,
                                                     const Tokenizer* tokenizer,
                                                     const CalibrationOptions& options);

// The shuffle: a Fisher-Yates shuffle of 0..count-1 (i from count-1 down to
// 1, swap i with j uniform in [0, i]) driven by SplitMix64 seeded with
// `seed`; j is drawn by rejection (a 64-bit output x is used when
// x < 2^64 - 2^64 mod (i+1), giving j = x mod (i+1)). Deterministic for a
// seed on every platform.
std::vector<int64_t> ShuffledOrder(int64_t count, uint64_t seed);

// Fails naming `source_name`, the sample and the id when an id is negative
// or not below `vocab_size` (the model's embedding rows).
absl::Status ValidateTokenIds(const std::vector<CalibrationSample>& samples,
                              int64_t vocab_size, absl::string_view source_name);

}  // namespace data
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DATA_CALIBRATION_DATA_H_
