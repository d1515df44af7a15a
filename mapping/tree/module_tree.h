// A model's module hierarchy as `torch.nn.Module.named_modules()` yields it.
//
// Everything in the mapping core answers questions about module names and
// classes, never about weights, so a model is just this tree: names in
// registration (pre-order) order, each module's class hierarchy (MRO, most
// derived first) and, for Linear layers, their feature counts.
#ifndef WRING_MAPPING_TREE_MODULE_TREE_H_
#define WRING_MAPPING_TREE_MODULE_TREE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"

namespace wring {
namespace mapping {

struct Module {
  std::string name;        // "" is the root model.
  std::string class_name;  // type(module).__name__
  // The class and its torch.nn.Module base classes, most derived first.
  // Plain-string targets ("Linear") are matched against every entry.
  std::vector<std::string> mro;
  // Linear layers only; -1 when unknown or not a Linear.
  int64_t in_features = -1;
  int64_t out_features = -1;
};

struct Parameter {
  std::string name;  // full dotted name, e.g. "model.layers.0.mlp.experts.gate_up_proj"
  std::vector<int64_t> shape;
};

class ModuleTree {
 public:
  // Validates and indexes `modules`, which must be in named_modules() order:
  // the root "" first, names unique, every module's parent listed before it.
  static absl::StatusOr<ModuleTree> Create(std::vector<Module> modules,
                                           std::vector<Parameter> parameters = {});

  ModuleTree() = default;  // empty; use Create() for a real tree
  ModuleTree(ModuleTree&&) = default;
  ModuleTree& operator=(ModuleTree&&) = default;

  int size() const { return static_cast<int>(modules_.size()); }
  const Module& module(int index) const { return modules_[index]; }
  const std::vector<Module>& modules() const { return modules_; }
  const std::vector<Parameter>& parameters() const { return parameters_; }

  // Index of the module called `name`, if any.
  absl::optional<int> Find(absl::string_view name) const;
  // Index of the parent module; -1 for the root.
  int parent(int index) const { return parents_[index]; }
  const std::vector<int>& children(int index) const { return children_[index]; }

  // isinstance(module, <class named `class_name`>), answered from the MRO.
  bool IsInstance(int index, absl::string_view class_name) const;
  bool IsLinear(int index) const;

  // The root's class name (the architecture, e.g. "LlamaForCausalLM").
  const std::string& root_class() const { return modules_[0].class_name; }

 private:
  std::vector<Module> modules_;
  std::vector<Parameter> parameters_;
  std::vector<int> parents_;
  std::vector<std::vector<int>> children_;
  absl::flat_hash_map<std::string, int> index_;
};

// compressed-tensors' get_lowest_common_ancestor_name: the common dotted
// prefix of the lexicographically smallest and largest name. A single name is
// its own ancestor; names with nothing in common give "".
std::string LowestCommonAncestorName(absl::Span<const std::string> names);
// The two-name case used by match_modules_set, where the second name may be
// absent (no parent context yet).
std::string LowestCommonAncestorName(absl::string_view name,
                                     const absl::optional<std::string>& context);

// The same for two names, as a view into one of them (no allocation: this
// runs for every match of every target on 100k-module models).
absl::string_view LowestCommonAncestorNameView(absl::string_view name,
                                               absl::string_view context);

// AWQ's get_lowest_common_ancestor_with_avoid(names, model, nn.ModuleList)
// for the modules at `modules`: their LCA, lifted past ModuleList ancestors
// (hooks on them never fire). Returns the module's index (0, the root, when
// nothing else qualifies).
int LowestCommonAncestorAvoidingModuleList(const ModuleTree& tree,
                                           absl::Span<const int> modules);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_TREE_MODULE_TREE_H_
