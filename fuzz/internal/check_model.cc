#include "fuzz/internal/check_model.h"

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "fuzz/internal/fuzz_check.h"
#include "mapping/base/json.h"
#include "mapping/check/check.h"
#include "mapping/report/render_text.h"
#include "mapping/report/report_json.h"

namespace wring {
namespace fuzz {

namespace {

// What ModuleTree::Create promises: the root first, every parent before its
// children, names unique.
void CheckTree(const mapping::ModuleTree& tree) {
  WRING_FUZZ_CHECK(tree.size() >= 1 && tree.module(0).name.empty(), "the root comes first");
  WRING_FUZZ_CHECK(tree.parent(0) == -1, "the root has no parent");
  for (int i = 1; i < tree.size(); ++i) {
    WRING_FUZZ_CHECK(tree.parent(i) >= 0 && tree.parent(i) < i, "parents precede children");
    WRING_FUZZ_CHECK(tree.Find(tree.module(i).name) == i, "names are unique");
  }
}

}  // namespace

void CheckAndRender(mapping::ModelInput model, const recipe::Recipe* recipe) {
  CheckTree(model.tree);
  absl::StatusOr<report::CheckReport> report = mapping::CheckRecipe(std::move(model), recipe);
  if (!report.ok()) {
    WRING_FUZZ_CHECK(!report.status().message().empty(), "an error must say what is wrong");
    return;
  }
  const std::string text = mapping::RenderReportText(*report);
  WRING_FUZZ_CHECK(!text.empty(), "the text report is never empty");
  const std::string json = mapping::ReportToJson(*report);
  // The JSON report is the web page's contract: it must be JSON.
  WRING_FUZZ_CHECK(mapping::ParseJson(json, "report").ok(), "the JSON report is valid JSON");
}

}  // namespace fuzz
}  // namespace wring
