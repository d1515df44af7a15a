// Built-in calibration text and tokenizer for `wring compress --demo`, so the
// demo runs with no files: a few paragraphs of plain English prose (written
// for wring) and a byte-level BPE tokenizer.json with 512 ids (Llama-3 split
// pattern, <|begin_of_text|> template) trained on that text with Hugging
// Face `tokenizers`. Both are generated into demo_assets.cc by
// testdata/gen_reference.py from testdata/demo_text.txt.
#ifndef WRING_BACKEND_DATA_DEMO_DATA_H_
#define WRING_BACKEND_DATA_DEMO_DATA_H_

#include "absl/strings/string_view.h"

namespace wring {
namespace backend {
namespace data {

// Paragraphs separated by blank lines (the .txt calibration format).
absl::string_view DemoCalibrationText();
// Contents of the demo tokenizer.json (load with Tokenizer::FromJson).
absl::string_view DemoTokenizerJson();

}  // namespace data
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_DATA_DEMO_DATA_H_
