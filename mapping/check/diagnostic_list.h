// The diagnostics of one check, kept in the order a llm-compressor run would
// meet them: recipe loading, then each modifier's on_initialize in recipe
// order, then each modifier's on_calibration_start, then the run itself.
// wring's own advice (phase "") comes after. The first error is the one a
// run stops at; every later diagnostic records which earlier errors it
// assumes fixed, so a cascade never reads as a cause of its own.
#ifndef WRING_MAPPING_CHECK_DIAGNOSTIC_LIST_H_
#define WRING_MAPPING_CHECK_DIAGNOSTIC_LIST_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "mapping/proto/report.pb.h"

namespace wring {
namespace mapping {

enum class Phase {
  kRecipe = 0,            // Recipe.create_instance: parsing, pydantic validation
  kInitialize = 1,        // Modifier.on_initialize
  kCalibrationStart = 2,  // Modifier.on_calibration_start
  kRun = 3,               // calibration / compression
  kAdvice = 4,            // wring's own observations, never raised upstream
};

absl::string_view PhaseName(Phase phase);

// Where in a run a diagnostic arises. `modifier` is the index in recipe
// order (-1: not tied to one modifier, sorts first within its phase).
struct Origin {
  Phase phase = Phase::kAdvice;
  int modifier = -1;
};

class DiagnosticList {
 public:
  // `modifier_names[i]` labels modifier i ("QuantizationModifier #2").
  explicit DiagnosticList(std::vector<std::string> modifier_names = {})
      : modifier_names_(std::move(modifier_names)) {}

  void Add(report::Diagnostic diagnostic, Origin origin);

  // An error a fix must clear; `assumption` says what the rest of the report
  // assumes instead ("adding the 27 indivisible layers to `ignore`").
  // `raises`: false for an error llm-compressor does not raise (the run
  // completes but does not do what the recipe says); it never "stops" a run.
  void AddError(report::Diagnostic diagnostic, Origin origin, std::string assumption = "",
                bool raises = true);

  bool has_error() const;
  // What the report assumes for the errors a run would raise before
  // `origin` ("" when none): their assumptions joined, for messages such as
  // "After adding ..., AWQ would resolve 96 mappings".
  std::string AssumptionsBefore(Origin origin) const;

  // Sorts into upstream order (errors first, then warnings, then info),
  // marks the error a run stops at, fills assumes_fixed, and appends
  // everything to `report`'s diagnostics.
  void MoveInto(report::CheckReport* report);

 private:
  struct Entry {
    report::Diagnostic diagnostic;
    Origin origin;
    std::string assumption;
    int sequence = 0;
    bool raises = true;
  };
  static bool Before(const Origin& a, const Origin& b);

  std::vector<std::string> modifier_names_;
  std::vector<Entry> entries_;
};

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_DIAGNOSTIC_LIST_H_
