#include "mapping/report/render_text.h"

#include <map>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "mapping/report/layer_ranges.h"

namespace wring {
namespace mapping {
namespace {

// A name relative to the decoder layer `layer` when it lives there.
std::string InLayer(const std::string& name, const absl::optional<int>& layer) {
  LayerName split = SplitLayerName(name);
  if (layer.has_value() && split.layer == layer && !split.rest.empty()) return split.rest;
  return name;
}

// Lines "layers 0-31: smooth -> balance (parent p)" for one mapping.
template <typename Entry, typename Describe>
std::vector<std::string> CompressEntries(const std::vector<const Entry*>& entries,
                                         const Describe& describe) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<int>> layers;
  std::map<std::string, int> unlayered;
  for (const Entry* e : entries) {
    LayerName smooth = SplitLayerName(e->smooth());
    std::string line = describe(*e, smooth.layer);
    std::string key = absl::StrCat(smooth.layer.has_value() ? smooth.prefix : "", "\x01", line);
    if (!layers.count(key) && !unlayered.count(key)) order.push_back(key);
    if (smooth.layer.has_value()) {
      layers[key].push_back(*smooth.layer);
    } else {
      unlayered[key]++;
    }
  }
  std::vector<std::string> out;
  for (const std::string& key : order) {
    std::string line = key.substr(key.find('\x01') + 1);
    auto it = layers.find(key);
    if (it != layers.end()) {
      std::string prefix = key.substr(0, key.find('\x01'));
      std::string where = prefix == "model.layers." ? "layers" : absl::StrCat(prefix, "*");
      out.push_back(absl::StrCat(where, " ", FormatIndexRanges(it->second), ": ", line));
    } else {
      out.push_back(line);
    }
  }
  return CollapseIndexedLines(out);
}

std::string SkipReasonExplanation(const std::string& reason) {
  if (reason == "incompatible") {
    return " (its output width differs from o_proj's input, as with grouped-query "
           "attention; llm-compressor skips it)";
  }
  if (reason == "not_targeted") return " (no layer of the set gets a quantization scheme)";
  if (reason == "no_balance") return " (the mapping lists no balance layers)";
  return "";
}

void RenderAwq(const report::AwqReport& awq, RenderOptions::Detail detail, std::string* out) {
  absl::StrAppend(out, "\nAWQ mappings (", awq.source(),
                  awq.list_name().empty() ? "" : absl::StrCat(": ", awq.list_name()), ")\n");
  for (int i = 0; i < awq.mappings_size(); ++i) {
    const report::AwqMapping& m = awq.mappings(i);
    absl::StrAppend(out, "  [", i + 1, "] ", m.smooth_layer(), " -> ",
                    absl::StrJoin(m.balance_layers(), ", "),
                    m.has_activation_hook_target()
                        ? absl::StrCat(" (hook ", m.activation_hook_target(), ")")
                        : "",
                    "\n");
    std::vector<const report::ResolvedMapping*> resolved;
    for (const auto& r : awq.resolved()) {
      if (r.mapping() == m.smooth_layer()) resolved.push_back(&r);
    }
    std::vector<const report::SkippedMapping*> skipped;
    for (const auto& s : awq.skipped()) {
      if (s.mapping() == m.smooth_layer()) skipped.push_back(&s);
    }
    if (resolved.empty() && skipped.empty() && !awq.has_error()) {
      absl::StrAppend(out, "      matches nothing in this model (silently dropped upstream)\n");
    }
    for (const std::string& line : CompressEntries(
             resolved, [](const report::ResolvedMapping& r, const absl::optional<int>& layer) {
               std::vector<std::string> balance;
               for (const auto& b : r.balance()) balance.push_back(InLayer(b, layer));
               return absl::StrCat(InLayer(r.smooth(), layer), " -> ", SummarizeNames(balance),
                                   " (parent ", r.parent().empty() ? "<model>" : InLayer(r.parent(), layer),
                                   r.has_hook() ? absl::StrCat(", hook ", InLayer(r.hook(), layer)) : "",
                                   ")");
             })) {
      absl::StrAppend(out, "      ", line, "\n");
    }
    for (const std::string& line : CompressEntries(
             skipped, [](const report::SkippedMapping& s, const absl::optional<int>& layer) {
               return absl::StrCat("skipped ", InLayer(s.smooth(), layer), ": ", s.reason(),
                                   SkipReasonExplanation(s.reason()));
             })) {
      absl::StrAppend(out, "      ", line, "\n");
    }
  }
  if (detail >= RenderOptions::Detail::kInfo) {
    // What llm-compressor logs; at DEBUG also the per-mapping skips its
    // "Set logging to DEBUG to view full list." warning refers to.
    absl::StrAppend(out, "  log:\n");
    for (const std::string& line : awq.log()) absl::StrAppend(out, "    ", line, "\n");
    for (const auto& s : awq.skipped()) {
      if (detail < RenderOptions::Detail::kDebug) break;
      if (s.reason() != "incompatible") continue;
      absl::StrAppend(out, "    DEBUG Skipping ", s.smooth(), " for mapping ", s.mapping(),
                      " because incompatible balance layers were found.\n");
    }
  }
  if (awq.has_error()) {
    // The full message is in the diagnostics above; keep this line short.
    std::string error = awq.error();
    if (error.size() > 160) error = absl::StrCat(error.substr(0, 157), "...");
    absl::StrAppend(out, "  raises: ", error, "\n");
  }
}

void RenderQuantization(const report::CheckReport& report, std::string* out) {
  const report::QuantizationReport& q = report.quantization();
  absl::StrAppend(out, "\nQuantization coverage (", report.targets_size(), " modules quantized)\n");
  for (const auto& use : q.schemes()) {
    std::vector<std::string> modules(use.modules().begin(), use.modules().end());
    absl::StrAppend(out, "  ", use.modifier(), " ", use.group(), ": ", use.summary(), " -> ",
                    modules.size(), " modules\n");
    // Keyed by layer stack (e.g. a vision tower's layers are not the
    // decoder's) and the name inside the layer.
    std::map<std::pair<std::string, std::string>, std::vector<int>> by_rest;
    std::vector<std::pair<std::string, std::string>> order;
    std::vector<std::string> other;
    for (const std::string& name : modules) {
      LayerName split = SplitLayerName(name);
      if (!split.layer.has_value()) {
        other.push_back(name);
        continue;
      }
      auto key = std::make_pair(split.prefix, split.rest);
      if (!by_rest.count(key)) order.push_back(key);
      by_rest[key].push_back(*split.layer);
    }
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> by_layers;
    std::vector<std::pair<std::string, std::string>> layer_order;
    for (const auto& key : order) {
      auto ranges = std::make_pair(key.first, FormatIndexRanges(by_rest[key]));
      if (!by_layers.count(ranges)) layer_order.push_back(ranges);
      by_layers[ranges].push_back(key.second);
    }
    for (const auto& ranges : layer_order) {
      std::string where =
          ranges.first == "model.layers." ? "layers" : absl::StrCat(ranges.first, "*");
      absl::StrAppend(out, "      ", where, " ", ranges.second, ": ",
                      SummarizeNames(by_layers[ranges]), "\n");
    }
    if (!other.empty()) absl::StrAppend(out, "      ", absl::StrJoin(other, ", "), "\n");
  }
  if (q.unquantized_linear_size() > 0) {
    std::vector<std::string> names(q.unquantized_linear().begin(), q.unquantized_linear().end());
    absl::StrAppend(out, "  Linear modules left unquantized (", names.size(),
                    "): ", SummarizeNames(names), "\n");
  }
  if (q.kv_cache_modules_size() > 0) {
    absl::StrAppend(out, "  kv-cache scales on ", q.kv_cache_modules_size(),
                    " attention modules\n");
  }
  for (const auto& t : q.unmatched_targets()) {
    absl::StrAppend(out, "  target matched nothing: ", t, "\n");
  }
}

void RenderSpinQuant(const report::SpinQuantReport& sq, std::string* out) {
  absl::StrAppend(out, "\nSpinQuant mappings", sq.requested() ? "" : " (not in the recipe; for reference)",
                  "\n");
  static const char* kFields[] = {"embedding", "attn",   "attn_q",  "attn_k", "attn_v",
                                  "attn_o",    "mlp_in", "mlp_out", "lm_head"};
  for (const char* field : kFields) {
    auto it = sq.fields().find(field);
    if (it == sq.fields().end()) continue;
    absl::StrAppend(out, "  ", field, " ", absl::StrJoin(it->second.patterns(), ","), ": ",
                    it->second.matches_size(), " modules\n");
  }
  for (const auto& norm : sq.norms()) {
    absl::StrAppend(out, "  norm ", norm.norm(), " -> ", absl::StrJoin(norm.linears(), ","), ": ");
    if (norm.has_error()) {
      absl::StrAppend(out, "raises ", norm.error(), "\n");
    } else {
      absl::StrAppend(out, norm.groups().values_size(), " groups\n");
    }
  }
}

// Upstream messages can list hundreds of layers ("  - name (columns=...)");
// the text report keeps the first few (the JSON report keeps them all).
std::string ShortenListedLines(const std::string& message) {
  constexpr int kShown = 6;
  std::vector<std::string> lines = absl::StrSplit(message, '\n');
  std::vector<std::string> out;
  int listed = 0;
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, "  - ")) {
      if (++listed > kShown) continue;
    }
    out.push_back(line);
  }
  if (listed > kShown) {
    out.push_back(absl::StrCat("  ... and ", listed - kShown, " more (", listed,
                               " in all; --json lists every one)"));
  }
  return absl::StrJoin(out, "\n");
}

}  // namespace

std::string RenderReportText(const report::CheckReport& report, const RenderOptions& options) {
  std::string out;
  const report::Verdict& v = report.verdict();
  absl::StrAppend(&out, "Verdict: ",
                  v.exit_code() == 0   ? "WOULD RUN"
                  : v.exit_code() == 1 ? "WOULD FAIL"
                                       : "UNUSABLE INPUT",
                  v.summary().empty() ? "" : absl::StrCat(" - ", v.summary()), "\n");
  if (report.has_reference()) {
    absl::StrAppend(&out, "Follows: llm-compressor ", report.reference().llmcompressor(),
                    ", compressed-tensors ", report.reference().compressed_tensors(), "\n");
  }
  const report::ModelSummary& m = report.model();
  absl::StrAppend(&out, "Model: ", m.architecture(), " (", m.source_kind(), ", ", m.num_modules(),
                  " modules, ", m.num_linear(), " Linear)\n");
  if (m.layer_types_size() > 0) {
    std::map<std::string, std::vector<int>> by_type;
    std::vector<std::string> order;
    for (int i = 0; i < m.layer_types_size(); ++i) {
      if (!by_type.count(m.layer_types(i))) order.push_back(m.layer_types(i));
      by_type[m.layer_types(i)].push_back(i);
    }
    for (const std::string& t : order) {
      absl::StrAppend(&out, "  ", t, ": layers ", FormatIndexRanges(by_type[t]), "\n");
    }
  }
  for (const auto& note : m.notes()) absl::StrAppend(&out, "  note: ", note, "\n");
  std::vector<std::string> modifiers;
  for (const auto& mod : report.recipe().modifiers()) modifiers.push_back(mod.type());
  absl::StrAppend(&out, "Recipe: ", report.recipe().source(), " (",
                  absl::StrJoin(modifiers, " + "), ")\n");
  for (const auto& d : report.diagnostics()) {
    if (options.detail == RenderOptions::Detail::kErrors && d.severity() != "error") continue;
    absl::StrAppend(&out, "\n", d.severity(), d.stops_run() ? " (a run stops here)" : "", ": ",
                    ShortenListedLines(d.message()), "\n");
    std::string where = d.modifier();
    if (!d.phase().empty()) {
      absl::StrAppend(&where, where.empty() ? "" : ", ",
                      d.phase() == "recipe" ? "loading the recipe"
                                            : absl::StrCat("on_", d.phase()));
    }
    if (!where.empty()) absl::StrAppend(&out, "  where: ", where, "\n");
    if (d.assumes_fixed_size() > 0) {
      absl::StrAppend(&out, "  after fixing: ", absl::StrJoin(d.assumes_fixed(), ", "), "\n");
    }
    if (!d.explanation().empty()) absl::StrAppend(&out, "  why: ", d.explanation(), "\n");
    if (!d.fix().empty()) absl::StrAppend(&out, "  fix: ", d.fix(), "\n");
  }
  if (report.has_awq()) RenderAwq(report.awq(), options.detail, &out);
  if (report.has_quantization()) RenderQuantization(report, &out);
  if (report.has_spinquant()) RenderSpinQuant(report.spinquant(), &out);
  return out;
}

}  // namespace mapping
}  // namespace wring
