#include "mapping/testing/fixture_path.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/file.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace mapping {
namespace testing {

std::string FixturePath(const std::string& name) {
  return RunfilePath(absl::StrCat("tests/fixtures/mapping/", name, ".json"));
}

std::vector<std::string> FixtureNames() {
  return {"Gemma3ForCausalLM",
          "Gemma3ForConditionalGeneration",
          "LlamaForCausalLM",
          "MistralForCausalLM",
          "Phi3ForCausalLM",
          "Qwen3ForCausalLM",
          "Qwen3MoeForCausalLM.fused",
          "Qwen3MoeForCausalLM.linearized",
          "Qwen3NextForCausalLM.fused",
          "Qwen3NextForCausalLM.linearized"};
}

absl::StatusOr<std::string> ReadFixture(const std::string& name) {
  return ReadFile(FixturePath(name), "mapping fixture");
}

absl::StatusOr<Json> LoadFixtureJson(const std::string& name) {
  auto text = ReadFixture(name);
  if (!text.ok()) return text.status();
  return ParseJson(*text, name);
}

}  // namespace testing
}  // namespace mapping
}  // namespace wring
