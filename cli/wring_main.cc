// wring: checks compression recipes against models the way llm-compressor
// would run them.
//
//   wring check --model PATH [--config config.json] [--recipe recipe.yaml] [--json]
//   wring mappings --arch NAME
//   wring compress --model DIR --recipe R.yaml --dataset FILE --output DIR
//   wring compress --demo OUTDIR
//
// Exit status: 0 the recipe would run (compress: the checkpoint was
// written), 1 llm-compressor would fail, 2 the input is unusable (the message
// says which file and field, and the fix), 3 compress failed while running.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/compress_command.h"
#include "cli/model_source.h"
#include "mapping/awq/awq_mapping.h"
#include "mapping/awq/dynamic_mappings.h"
#include "mapping/base/file.h"
#include "mapping/check/check.h"
#include "mapping/recipe/recipe_parser.h"
#include "mapping/recipe/suggestion.h"
#include "mapping/report/render_text.h"
#include "mapping/report/report_json.h"

ABSL_FLAG(std::string, model, "",
          "model structure: checkpoint directory, .safetensors file, "
          "model.safetensors.index.json, module dump (.json) or module list (text)");
ABSL_FLAG(std::string, config, "", "config.json (default: the one beside --model)");
ABSL_FLAG(std::string, recipe, "",
          "llm-compressor recipe (YAML/JSON); default: AWQ + W4A16 on Linear, ignore lm_head");
ABSL_FLAG(std::string, arch, "", "architecture class name (overrides config.architectures)");
ABSL_FLAG(bool, json, false, "print the report as JSON instead of text");

namespace {

using wring::mapping::kExitUnusableInput;

constexpr char kUsage[] =
    "checks llm-compressor recipes against models before any GPU time is spent.\n\n"
    "  wring check --model PATH [--config config.json] [--recipe recipe.yaml] [--json]\n"
    "  wring mappings --arch NAME\n"
    "  wring compress --model DIR --recipe R.yaml --dataset FILE --output DIR\n"
    "                 [--device cpu|cuda] [--num-samples N] [--seq-len L] [--eval-samples N]\n"
    "  wring compress --demo OUTDIR\n\n"
    "Exit status: 0 the recipe would run (compress: written), 1 llm-compressor would fail,\n"
    "2 unusable input, 3 compress failed while running.";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "wring: error: %s\nRun `wring --help` for usage.\n", message.c_str());
  return kExitUnusableInput;
}

int InputError(const absl::Status& status) {
  std::fprintf(stderr, "wring: error: %s\n", std::string(status.message()).c_str());
  return kExitUnusableInput;
}

// absl exits with status 1 on an unknown flag, which would read as "the
// recipe would fail"; unknown flags are unusable input (2), with a hint.
bool CheckFlagsKnown(int argc, char** argv, std::string* error) {
  std::vector<std::string> known = {"model", "config", "recipe", "arch", "json",
                                    "help",  "helpfull", "version"};
  for (const std::string& name : wring::cli::CompressFlagNames()) known.push_back(name);
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::StartsWith(arg, "-") || arg == "-") continue;
    arg.remove_prefix(absl::StartsWith(arg, "--") ? 2 : 1);
    absl::string_view name = arg.substr(0, arg.find('='));
    if (absl::FindCommandLineFlag(name) != nullptr) continue;
    if (absl::StartsWith(name, "no") && absl::FindCommandLineFlag(name.substr(2)) != nullptr) {
      continue;
    }
    std::string hint = wring::mapping::DidYouMean(name, known);
    *error = absl::StrCat("unknown flag --", name, hint.empty() ? "" : absl::StrCat("; ", hint));
    return false;
  }
  return true;
}

int RunCheck() {
  auto model = wring::cli::LoadModelArgument(absl::GetFlag(FLAGS_model),
                                             absl::GetFlag(FLAGS_config),
                                             absl::GetFlag(FLAGS_arch));
  if (!model.ok()) return InputError(model.status());
  absl::optional<wring::recipe::Recipe> recipe;
  const std::string recipe_path = absl::GetFlag(FLAGS_recipe);
  if (!recipe_path.empty()) {
    auto text = wring::mapping::ReadFile(recipe_path, "recipe");
    if (!text.ok()) return InputError(text.status());
    auto parsed = wring::mapping::ParseRecipe(*text, recipe_path);
    if (!parsed.ok()) return InputError(parsed.status());
    recipe = *std::move(parsed);
  }
  auto report = wring::mapping::CheckRecipe(*std::move(model),
                                            recipe.has_value() ? &*recipe : nullptr);
  if (!report.ok()) return InputError(report.status());
  const std::string out = absl::GetFlag(FLAGS_json) ? wring::mapping::ReportToJson(*report)
                                                    : wring::mapping::RenderReportText(*report);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return report->verdict().exit_code();
}

int RunMappings() {
  using namespace wring::mapping;
  const std::string arch = absl::GetFlag(FLAGS_arch);
  if (arch.empty()) return UsageError("`wring mappings` needs --arch NAME (e.g. LlamaForCausalLM)");
  const AwqMappingList* list = FindRegisteredAwqMappings(arch);
  std::vector<std::string> architectures;
  for (const auto& entry : AwqRegistryEntries()) architectures.push_back(entry.first);
  if (HasDynamicAwqBuilder(arch)) {
    std::printf("%s: AWQ mappings are built at run time from the model (dynamic registry: "
                "config layer_types / module names).\nRun `wring check --model ...` to see "
                "them for a concrete model.\n",
                arch.c_str());
    return 0;
  }
  if (list == nullptr) {
    std::string hint = DidYouMean(arch, architectures);
    std::printf("%s is not in AWQ_MAPPING_REGISTRY%s; llm-compressor falls back to "
                "default_mappings:\n",
                arch.c_str(), hint.empty() ? "" : absl::StrCat(" (", hint, ")").c_str());
    list = &DefaultAwqMappings();
  } else {
    std::printf("%s: %s\n", arch.c_str(), list->name);
  }
  for (const AwqMapping& m : list->mappings) {
    std::printf("  %s -> %s%s\n", m.smooth_layer.c_str(),
                absl::StrJoin(m.balance_layers, ", ").c_str(),
                m.activation_hook_target.has_value()
                    ? absl::StrCat(" (hook ", *m.activation_hook_target, ")").c_str()
                    : "");
  }
  return 0;
}

}  // namespace

// The documented spelling is --num-samples; absl flag names cannot hold a
// '-', so flag names (not values) are rewritten to underscores.
void AcceptHyphenatedFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (std::strcmp(arg, "--") == 0) break;
    if (arg[0] != '-' || arg[1] != '-') continue;
    for (char* c = arg + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
}

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  AcceptHyphenatedFlagNames(argc, argv);
  std::string flag_error;
  if (!CheckFlagsKnown(argc, argv, &flag_error)) return UsageError(flag_error);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    return UsageError("missing command: `check`, `mappings` or `compress`");
  }
  const std::string command = positional[1];
  if (positional.size() > 2) {
    return UsageError(absl::StrCat("unexpected argument '", positional[2], "'"));
  }
  if (command == "check") return RunCheck();
  if (command == "mappings") return RunMappings();
  if (command == "compress") return wring::cli::RunCompress(argc, argv);
  std::string hint = wring::mapping::DidYouMean(command, {"check", "mappings", "compress"});
  return UsageError(absl::StrCat("unknown command '", command, "'",
                                 hint.empty() ? "" : absl::StrCat("; ", hint)));
}
