// A YAML document read into memory with libyaml, bounded against hostile input.
//
// llm-compressor loads recipes with PyYAML's safe_load (JSON first), so plain
// scalars are typed with PyYAML's YAML 1.1 rules (`yes` is a boolean, `1e-3` a
// string, `0x10` an integer). Aliases share the anchored node instead of
// copying it; the total size and depth *after* expanding aliases are capped,
// so "billion laughs" documents and 10k-deep nesting fail cleanly instead of
// exhausting memory or the stack. Parsing is iterative (an explicit stack).
#ifndef WRING_MAPPING_RECIPE_INTERNAL_YAML_TREE_H_
#define WRING_MAPPING_RECIPE_INTERNAL_YAML_TREE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace mapping {
namespace recipe_internal {

// Nesting depth and node count after alias expansion. Real recipes are about
// 8 levels deep and a few hundred nodes.
inline constexpr int kMaxYamlDepth = 64;
inline constexpr int64_t kMaxYamlExpandedNodes = 100000;

enum class YamlKind { kScalar, kSequence, kMapping };
enum class ScalarType { kNull, kBool, kInt, kFloat, kString };

struct YamlNode {
  YamlKind kind = YamlKind::kScalar;
  int line = 0;    // 1-based
  int column = 0;  // 1-based

  // Scalars. `text` is the value after YAML unescaping.
  std::string text;
  ScalarType type = ScalarType::kString;
  bool bool_value = false;
  bool int_in_range = false;  // int_value valid (fits int64)
  int64_t int_value = 0;
  double float_value = 0;

  // Collections hold node ids; an alias makes two parents share one id.
  std::vector<int> items;                      // sequence
  std::vector<std::pair<int, int>> entries;    // mapping: key id, value id

  bool is_null() const {
    return kind == YamlKind::kScalar && type == ScalarType::kNull;
  }
  bool is_string() const {
    return kind == YamlKind::kScalar && type == ScalarType::kString;
  }
};

class YamlDocument {
 public:
  // Errors are InvalidArgument, "<source_name>:<line>:<column>: ...".
  // `json_numbers`: plain scalars in JSON number syntax (`1e-3`) are floats,
  // as json.loads reads them (llm-compressor tries JSON before YAML).
  static absl::StatusOr<YamlDocument> Parse(absl::string_view text,
                                            absl::string_view source_name,
                                            bool json_numbers);

  // True when the stream holds no document or only a null one.
  bool empty() const { return root_ < 0 || nodes_[root_].is_null(); }
  int root() const { return root_; }
  const YamlNode& node(int id) const { return nodes_[id]; }

 private:
  friend class YamlTreeBuilder;
  std::vector<YamlNode> nodes_;
  int root_ = -1;
};

// Types a plain scalar the way PyYAML's safe_load resolver does.
void ResolvePlainScalar(YamlNode& node, bool json_numbers);

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_RECIPE_INTERNAL_YAML_TREE_H_
