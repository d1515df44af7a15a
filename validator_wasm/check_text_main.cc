// The validator API natively, for tests and benchmarks that compare it with
// the WebAssembly module:
//
//   check_text check MODEL CONFIG RECIPE        # validator::Check
//   check_text safetensors HEADERS CONFIG RECIPE  # validator::CheckSafetensors
//
// Each argument is a file path whose content is passed as the string, or ""
// for an empty string. Prints the report JSON.
#include <cstdio>
#include <string>

#include "mapping/base/file.h"
#include "validator_wasm/validator_api.h"

namespace {

bool ReadArgument(const char* path, std::string* text) {
  text->clear();
  if (path[0] == '\0') return true;
  absl::StatusOr<std::string> contents = wring::mapping::ReadFile(path, "input");
  if (!contents.ok()) {
    std::fprintf(stderr, "check_text: %s\n", std::string(contents.status().message()).c_str());
    return false;
  }
  *text = *std::move(contents);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: check_text check|safetensors INPUT CONFIG RECIPE\n");
    return 2;
  }
  const std::string mode = argv[1];
  std::string input, config, recipe;
  if (!ReadArgument(argv[2], &input) || !ReadArgument(argv[3], &config) ||
      !ReadArgument(argv[4], &recipe)) {
    return 2;
  }
  namespace api = wring::mapping::validator;
  std::string report;
  if (mode == "check") {
    report = api::Check(input, config, recipe);
  } else if (mode == "safetensors") {
    report = api::CheckSafetensors(input, config, recipe);
  } else {
    std::fprintf(stderr, "check_text: unknown mode '%s' (check or safetensors)\n", mode.c_str());
    return 2;
  }
  std::fwrite(report.data(), 1, report.size(), stdout);
  return 0;
}
