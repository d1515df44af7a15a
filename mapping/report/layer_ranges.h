// Compresses per-layer results into one line per distinct shape, e.g.
// "layers 0-31: input_layernorm -> q_proj,k_proj,v_proj (parent self_attn)",
// so a 48-layer MoE report stays readable.
#ifndef WRING_MAPPING_REPORT_LAYER_RANGES_H_
#define WRING_MAPPING_REPORT_LAYER_RANGES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace wring {
namespace mapping {

struct LayerName {
  absl::optional<int> layer;  // the decoder layer index, if the name has one
  std::string prefix;         // e.g. "model.layers."
  std::string rest;           // the name inside the layer, e.g. "self_attn.q_proj"
};

// Splits "model.layers.12.self_attn.q_proj" at its (last) "layers.<N>."
// component. Names without one come back whole in `rest`.
LayerName SplitLayerName(absl::string_view name);

// "0-31", "0-2,4-6,8", "3,7,11" for sorted unique indices.
std::string FormatIndexRanges(const std::vector<int>& indices);

// Collapses numbered siblings inside a layer: ["mlp.experts.0.up_proj",
// "mlp.experts.1.up_proj", ...] -> "mlp.experts.{0..511}.up_proj" when the
// names differ only in one number; otherwise joins them with ",".
std::string SummarizeNames(const std::vector<std::string>& names);

// Collapses lines that differ only in one index repeated inside them
// ("layers 0-47: mlp.experts.3.up_proj -> mlp.experts.3.down_proj") into
// one line with the index range in braces. Lines come back in first-seen
// order; groups of fewer than three stay as they are.
std::vector<std::string> CollapseIndexedLines(const std::vector<std::string>& lines);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_REPORT_LAYER_RANGES_H_
