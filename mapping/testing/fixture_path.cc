#include "mapping/testing/fixture_path.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {
namespace testing {

std::string FixturePath(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::string root = srcdir != nullptr ? absl::StrCat(srcdir, "/wring/") : "";
  return absl::StrCat(root, "tests/fixtures/mapping/", name, ".json");
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

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::StatusOr<Json> LoadFixtureJson(const std::string& name) {
  auto text = ReadFile(FixturePath(name));
  if (!text.ok()) return text.status();
  return ParseJson(*text, name);
}

}  // namespace testing
}  // namespace mapping
}  // namespace wring
