// Benchmark: AWQ mapping resolution on the linearized Qwen3-Next fixture
// (99,187 modules, 24,720 resolved mappings). llm-compressor's Python takes
// ~6.8 s for the same resolution (the fixture's awq_seconds); wring's goal is
// <= 50 ms on a 2-core machine. Prints the median over repeated runs and the
// process's peak resident memory. Not a test: numbers only.
//
//   bazel run //bench:resolve_bench [-- FIXTURE.json [REPEATS]]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "mapping/awq/dynamic_mappings.h"
#include "mapping/awq/resolve.h"
#include "mapping/base/file.h"
#include "mapping/base/json.h"
#include "mapping/match/match_table.h"
#include "mapping/match/matchers.h"
#include "mapping/model/fixture_format.h"

namespace {

using Clock = std::chrono::steady_clock;

double PeakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wring::mapping;
  std::string path = argc > 1 ? argv[1] : "tests/fixtures/mapping/Qwen3NextForCausalLM.linearized.json";
  int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 11;
  absl::StatusOr<std::string> text = ReadFile(path, "module dump");
  if (!text.ok()) {
    std::fprintf(stderr, "resolve_bench: %s\n", std::string(text.status().message()).c_str());
    return 2;
  }
  auto load_start = Clock::now();
  auto doc = ParseJson(*text, path);
  if (!doc.ok()) {
    std::fprintf(stderr, "%s\n", std::string(doc.status().message()).c_str());
    return 2;
  }
  auto model = ModelFromModuleDump(*doc, path);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 2;
  }
  double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - load_start).count();
  double rss_loaded = PeakRssMiB();

  std::vector<double> times;
  size_t resolved = 0, skipped = 0;
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    auto chosen = ChooseAwqMappings(model->tree, model->config, model->architecture);
    // The fixtures' quantization assumption: ["Linear"], ignore ["lm_head"].
    PatternRegistry registry;
    int linear = *registry.Add("Linear");
    int lm_head = *registry.Add("lm_head");
    auto table = MatchTable::Build(model->tree, registry);
    std::vector<bool> targeted(model->tree.size(), false);
    for (int m : MatchNamedModules(model->tree, *table, {linear}, {lm_head}).modules) {
      targeted[m] = model->tree.IsLinear(m);
    }
    auto resolution = ResolveAwqMappings(model->tree, chosen->mappings, targeted);
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (!resolution.ok()) {
      std::fprintf(stderr, "%s\n", std::string(resolution.status().message()).c_str());
      return 1;
    }
    resolved = resolution->resolved.size();
    skipped = resolution->skipped.size();
  }
  std::printf("fixture: %s\n", path.c_str());
  std::printf("modules: %d  resolved mappings: %zu  skipped: %zu\n", model->tree.size(), resolved,
              skipped);
  std::printf("load (JSON parse + tree): %.1f ms\n", load_ms);
  std::printf("resolution (choose mappings + targets + resolve), median of %d: %.2f ms  "
              "(min %.2f, max %.2f)\n",
              repeats, Median(times), *std::min_element(times.begin(), times.end()),
              *std::max_element(times.begin(), times.end()));
  if (const Json* seconds = JsonMember(*doc, "awq_seconds")) {
    if (seconds->is_number()) {
      std::printf("llm-compressor (fixture awq_seconds, faster host): %.0f ms -> %.0fx\n",
                  seconds->get<double>() * 1000, seconds->get<double>() * 1000 / Median(times));
    }
  }
  std::printf("peak RSS: %.1f MiB after load, %.1f MiB after resolution\n", rss_loaded,
              PeakRssMiB());
  return 0;
}
