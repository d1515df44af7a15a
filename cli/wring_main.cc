// wring: checks compression recipes against models the way llm-compressor
// would run them.
//
//   wring check --model PATH [--config config.json] [--recipe recipe.yaml] [--json]
//   wring mappings --arch NAME
//   wring compress --model DIR --recipe R.yaml --dataset FILE --output DIR
//   wring compress --demo OUTDIR
//   wring help [COMMAND], COMMAND --help
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
#include "backend/cpu_kernels/intra_op_threads.h"
#include "backend/cpu_kernels/openblas_core_type.h"
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
ABSL_FLAG(bool, json, false,
          "check: print the report as JSON instead of text (for every exit status, unusable "
          "input included)");
ABSL_FLAG(std::string, log_level, "warning",
          "how much of what llm-compressor would log to show: error, warning, info or debug "
          "(--log-level); debug lists every skipped AWQ mapping");
ABSL_FLAG(bool, v, false, "the same as --log-level=debug");

namespace {

using wring::mapping::kExitUnusableInput;

constexpr char kUsage[] =
    "wring: checks llm-compressor recipes against models before any GPU time is spent,\n"
    "and compresses models the way llm-compressor does.\n\n"
    "Usage:\n"
    "  wring check --model PATH [--config config.json] [--recipe recipe.yaml] [--json]\n"
    "  wring mappings --arch NAME\n"
    "  wring compress --model DIR --recipe R.yaml --dataset FILE --output DIR [options]\n"
    "  wring compress --demo OUTDIR\n"
    "  wring help [COMMAND]        (or COMMAND --help)\n\n"
    "Common options:\n"
    "  --log-level=LEVEL  error, warning (default), info or debug; -v is debug\n\n"
    "Exit status: 0 the recipe would run (compress: written), 1 llm-compressor would fail,\n"
    "2 unusable input, 3 compress failed while running.\n";

constexpr char kCheckUsage[] =
    "wring check: what a recipe would do to a model, and every error llm-compressor would\n"
    "raise, in the order a run would meet them (the first one is where it stops).\n\n"
    "  wring check --model PATH [--config config.json] [--recipe recipe.yaml] [--json]\n\n"
    "  --model PATH    checkpoint directory, .safetensors file, model.safetensors.index.json,\n"
    "                  module dump (.json) or module list (text); may be omitted when\n"
    "                  --config names a known architecture\n"
    "  --config FILE   config.json (default: the one beside --model)\n"
    "  --recipe FILE   llm-compressor recipe (YAML/JSON); default: AWQ + W4A16 on Linear,\n"
    "                  ignore lm_head\n"
    "  --arch NAME     architecture class name (overrides config.architectures)\n"
    "  --json          the report as JSON (schema: mapping/proto/report.proto), for every\n"
    "                  exit status\n"
    "  --log-level=debug, -v   also print what llm-compressor only logs (e.g. each AWQ\n"
    "                  mapping skipped as incompatible)\n\n"
    "Exit status: 0 would run, 1 llm-compressor would fail, 2 unusable input.\n";

constexpr char kMappingsUsage[] =
    "wring mappings: the AWQ mappings llm-compressor uses for an architecture.\n\n"
    "  wring mappings --arch NAME   e.g. --arch LlamaForCausalLM\n";

constexpr char kCompressUsage[] =
    "wring compress: calibrate and write a compressed-tensors checkpoint, as llm-compressor's\n"
    "oneshot does. The recipe is checked first, exactly as `wring check` does.\n\n"
    "  wring compress --model DIR --recipe R.yaml --dataset FILE --output DIR\n"
    "  wring compress --demo OUTDIR\n\n"
    "  --dataset FILE       .jsonl (input_ids or text per line) or .txt (blank-line separated)\n"
    "  --output DIR         written only when complete; never overwritten\n"
    "  --device cpu|cuda[:N]\n"
    "  --num-samples N      calibration samples (default 512)\n"
    "  --seq-len L          tokens per sample (default 384)\n"
    "  --eval-samples N     held-out samples for the quality report (default 8; 0: none)\n"
    "  --seed S, --noshuffle, --quiet, --awq-forward-loss, --gptq-upstream-factorization\n\n"
    "Exit status: 0 written, 1 the recipe would fail, 2 unusable input, 3 the run failed.\n";

const char* UsageOf(const std::string& command) {
  if (command == "check") return kCheckUsage;
  if (command == "mappings") return kMappingsUsage;
  if (command == "compress") return kCompressUsage;
  return kUsage;
}

// `wring check --json` answers in JSON whatever happens.
bool g_json_errors = false;

int InputError(const absl::Status& status) {
  std::fprintf(stderr, "wring: error: %s\n", std::string(status.message()).c_str());
  if (g_json_errors) {
    const std::string json =
        wring::mapping::ReportToJson(wring::mapping::UnusableInputReport(status));
    std::fwrite(json.data(), 1, json.size(), stdout);
  }
  return kExitUnusableInput;
}

int UsageError(const std::string& message) {
  InputError(absl::InvalidArgumentError(message));
  std::fprintf(stderr, "Run `wring --help` for usage.\n");
  return kExitUnusableInput;
}

// --help anywhere (or `wring help [COMMAND]`): the usage of the command
// named, on stdout, exit 0. Checked before flags are parsed, so a request
// for help never fails on the other arguments.
bool WantsHelp(int argc, char** argv, std::string* command) {
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "-help" || arg == "--helpfull" ||
        arg == "--helpshort") {
      help = true;
    } else if (!absl::StartsWith(arg, "-")) {
      if (command->empty() && arg == "help") {
        help = true;
      } else if (command->empty() || *command == "help") {
        *command = std::string(arg);
      }
    }
  }
  if (*command == "help") command->clear();
  return help;
}

// absl exits with status 1 on an unknown flag, which would read as "the
// recipe would fail"; unknown flags are unusable input (2), with a hint.
bool CheckFlagsKnown(int argc, char** argv, std::string* error) {
  std::vector<std::string> known = {"model", "config", "recipe", "arch", "json",
                                    "log_level", "help"};
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
  using Detail = wring::mapping::RenderOptions::Detail;
  wring::mapping::RenderOptions render;
  const std::string level = absl::GetFlag(FLAGS_log_level);
  render.detail = absl::GetFlag(FLAGS_v) || level == "debug" ? Detail::kDebug
                  : level == "info"                          ? Detail::kInfo
                  : level == "error"                         ? Detail::kErrors
                                                             : Detail::kDefault;
  const std::string out = absl::GetFlag(FLAGS_json)
                              ? wring::mapping::ReportToJson(*report)
                              : wring::mapping::RenderReportText(*report, render);
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
    std::printf("%s: %s\n", arch.c_str(), list->name.c_str());
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
  std::string help_command;
  if (WantsHelp(argc, argv, &help_command)) {
    const char* usage = UsageOf(help_command);
    if (usage == kUsage && !help_command.empty()) {
      std::string hint = wring::mapping::DidYouMean(help_command, {"check", "mappings", "compress"});
      return UsageError(absl::StrCat("no help for unknown command '", help_command, "'",
                                     hint.empty() ? "" : absl::StrCat("; ", hint)));
    }
    std::fputs(usage, stdout);
    return 0;
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (std::strcmp(argv[i], "--json") == 0 || std::strcmp(argv[i], "--json=true") == 0) {
      g_json_errors = true;
    }
  }
  AcceptHyphenatedFlagNames(argc, argv);
  std::string flag_error;
  if (!CheckFlagsKnown(argc, argv, &flag_error)) return UsageError(flag_error);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::fputs(kUsage, stderr);
    return UsageError("missing command: `check`, `mappings` or `compress`");
  }
  const std::string command = positional[1];
  if (positional.size() > 2) {
    return UsageError(absl::StrCat("unexpected argument '", positional[2], "'"));
  }
  const std::string level = absl::GetFlag(FLAGS_log_level);
  if (level != "error" && level != "warning" && level != "info" && level != "debug") {
    std::string hint = wring::mapping::DidYouMean(level, {"error", "warning", "info", "debug"});
    return UsageError(absl::StrCat("--log-level: unknown level '", level,
                                   "'; use error, warning, info or debug",
                                   hint.empty() ? "" : absl::StrCat(" (", hint, ")")));
  }
  if (command == "check") return RunCheck();
  if (command == "mappings") return RunMappings();
  if (command == "compress") {
    // Only compress computes with LibTorch: `check` would pay a second
    // start (about 0.5 s) for kernels it never calls.
    wring::backend::cpu_kernels::UseTheCpusKernelsAndThreads(argv);  // may start this program again
    wring::backend::cpu_kernels::SetIntraOpThreads();
    return wring::cli::RunCompress(argc, argv);
  }
  std::string hint = wring::mapping::DidYouMean(command, {"check", "mappings", "compress"});
  return UsageError(absl::StrCat("unknown command '", command, "'",
                                 hint.empty() ? "" : absl::StrCat("; ", hint)));
}
