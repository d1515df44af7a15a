// Builds a ModuleTree's module list from loose module names (a text list, or
// the modules implied by parameter names), where parents may be missing and
// names may arrive in any order.
//
// The result is always a valid named_modules() pre-order: the root first,
// every parent before its children, and missing parents synthesized.
#ifndef WRING_MAPPING_MODEL_INTERNAL_MODULE_BUILDER_H_
#define WRING_MAPPING_MODEL_INTERNAL_MODULE_BUILDER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {
namespace internal {

// Longest module or parameter name accepted; real names stay under ~200.
inline constexpr size_t kMaxNameLength = 4096;

// Checks a dotted module/parameter name: non-empty components, no
// whitespace or control characters, sane length. The message says what is
// wrong with `name` (the caller adds file and line).
absl::Status ValidateDottedName(absl::string_view name);

// True when `component` is a decimal index ("0", "17"), as ModuleList and
// Sequential children are named.
bool IsIndexComponent(absl::string_view component);

// "a.b.c" -> "c"; "a" -> "a".
absl::string_view LastComponent(absl::string_view name);
// "a.b.c" -> "a.b"; "a" -> "".
absl::string_view ParentName(absl::string_view name);

// Attribute-name conventions of Hugging Face models, used when nothing better
// (a class column, a tensor shape) says what a module is.
bool IsLinearName(absl::string_view component);     // *_proj, lm_head
bool IsEmbeddingName(absl::string_view component);  // embed_tokens, wte, ...
bool IsNormName(absl::string_view component);       // *norm, ln_*, ln

// "a, b, c and 4 more" for notes.
std::string SampleList(const std::vector<std::string>& names, size_t shown = 3);

class ModuleBuilder {
 public:
  struct Node {
    Module module;  // module.name is the full dotted name
    int parent = -1;
    std::vector<int> children;  // in first-appearance order
    bool listed = false;        // named explicitly (not synthesized)
  };

  ModuleBuilder();  // starts with the root ""

  // Returns the node for `name` (already validated), creating it and any
  // missing ancestors. Ancestors created here stay `listed == false`.
  int Add(absl::string_view name);
  // The node for `name`, or -1.
  int Find(absl::string_view name) const;

  Node& node(int index) { return nodes_[index]; }
  const Node& node(int index) const { return nodes_[index]; }
  int size() const { return static_cast<int>(nodes_.size()); }

  // Number of nodes (root excluded) that were only synthesized as parents.
  int SynthesizedCount() const;

  enum class ChildOrder {
    // Children in the order they were first seen (the input's own order).
    kFirstAppearance,
    // Children sorted: numeric components numerically, known Hugging Face
    // attribute names in their usual registration order, the rest
    // alphabetically (numbers inside names compared numerically).
    kNatural,
  };
  // The modules in pre-order. Index 0 is the root.
  std::vector<Module> Flatten(ChildOrder order) const;
  // Node indices in the same pre-order as Flatten().
  std::vector<int> PreOrder(ChildOrder order) const;

 private:
  std::vector<Node> nodes_;
  absl::flat_hash_map<std::string, int> index_;
};

}  // namespace internal
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MODEL_INTERNAL_MODULE_BUILDER_H_
