#include "mapping/check/diagnostic_list.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_join.h"

namespace wring {
namespace mapping {
namespace {

int SeverityRank(const std::string& severity) {
  if (severity == "error") return 0;
  if (severity == "warning") return 1;
  return 2;
}

}  // namespace

absl::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kRecipe:
      return "recipe";
    case Phase::kInitialize:
      return "initialize";
    case Phase::kCalibrationStart:
      return "calibration_start";
    case Phase::kRun:
      return "run";
    case Phase::kAdvice:
      return "";
  }
  return "";
}

bool DiagnosticList::Before(const Origin& a, const Origin& b) {
  if (a.phase != b.phase) return a.phase < b.phase;
  return a.modifier < b.modifier;
}

void DiagnosticList::Add(report::Diagnostic diagnostic, Origin origin) {
  diagnostic.set_phase(std::string(PhaseName(origin.phase)));
  if (origin.modifier >= 0 && origin.modifier < static_cast<int>(modifier_names_.size())) {
    diagnostic.set_modifier(modifier_names_[origin.modifier]);
  }
  entries_.push_back({std::move(diagnostic), origin, "", static_cast<int>(entries_.size())});
}

void DiagnosticList::AddError(report::Diagnostic diagnostic, Origin origin,
                              std::string assumption, bool raises) {
  diagnostic.set_severity("error");
  Add(std::move(diagnostic), origin);
  entries_.back().assumption = std::move(assumption);
  entries_.back().raises = raises;
}

bool DiagnosticList::has_error() const {
  for (const Entry& e : entries_) {
    if (e.diagnostic.severity() == "error") return true;
  }
  return false;
}

std::string DiagnosticList::AssumptionsBefore(Origin origin) const {
  std::vector<const Entry*> earlier;
  for (const Entry& e : entries_) {
    if (e.diagnostic.severity() == "error" && Before(e.origin, origin)) earlier.push_back(&e);
  }
  std::stable_sort(earlier.begin(), earlier.end(),
                   [](const Entry* a, const Entry* b) { return Before(a->origin, b->origin); });
  std::vector<std::string> parts;
  for (const Entry* e : earlier) {
    const std::string& text =
        e->assumption.empty() ? "fixing \"" + e->diagnostic.code() + "\"" : e->assumption;
    if (std::find(parts.begin(), parts.end(), text) == parts.end()) parts.push_back(text);
  }
  return absl::StrJoin(parts, " and ");
}

void DiagnosticList::MoveInto(report::CheckReport* report) {
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    int sa = SeverityRank(a.diagnostic.severity()), sb = SeverityRank(b.diagnostic.severity());
    if (sa != sb) return sa < sb;
    if (Before(a.origin, b.origin)) return true;
    if (Before(b.origin, a.origin)) return false;
    return a.sequence < b.sequence;
  });
  bool first_error = true;
  for (Entry& e : entries_) {
    report::Diagnostic& d = e.diagnostic;
    if (d.severity() == "error" && e.raises && first_error) {
      d.set_stops_run(true);
      first_error = false;
    }
    // An upstream diagnostic past an earlier error is only met once that
    // error is fixed; wring's advice stands on its own.
    if (e.origin.phase != Phase::kAdvice) {
      for (const Entry& other : entries_) {
        if (other.diagnostic.severity() != "error" || !Before(other.origin, e.origin)) continue;
        const std::string& code = other.diagnostic.code();
        if (std::find(d.assumes_fixed().begin(), d.assumes_fixed().end(), code) ==
            d.assumes_fixed().end()) {
          d.add_assumes_fixed(code);
        }
      }
    }
  }
  for (Entry& e : entries_) *report->add_diagnostics() = std::move(e.diagnostic);
  entries_.clear();
}

}  // namespace mapping
}  // namespace wring
