#include "mapping/tree/module_tree.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {

absl::StatusOr<ModuleTree> ModuleTree::Create(std::vector<Module> modules,
                                              std::vector<Parameter> parameters) {
  if (modules.empty()) {
    return absl::InvalidArgumentError(
        "the module list is empty: it needs at least the root module \"\"");
  }
  if (!modules[0].name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the first module must be the root (name \"\"), as named_modules() yields it; got \"",
        modules[0].name, "\""));
  }
  ModuleTree tree;
  tree.index_.reserve(modules.size());
  tree.parents_.assign(modules.size(), -1);
  tree.children_.resize(modules.size());
  for (int i = 0; i < static_cast<int>(modules.size()); ++i) {
    Module& m = modules[i];
    if (i > 0 && m.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "module #", i, " has an empty name; only the root (the first entry) may"));
    }
    if (m.mro.empty() && !m.class_name.empty()) m.mro.push_back(m.class_name);
    if (m.class_name.empty() && !m.mro.empty()) m.class_name = m.mro[0];
    if (!tree.index_.emplace(m.name, i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate module name \"", m.name, "\" (module #", i,
                       "); every name in the module list must be unique"));
    }
    if (i == 0) continue;
    size_t dot = m.name.rfind('.');
    if (dot == 0 || dot + 1 == m.name.size() ||
        (dot != std::string::npos && m.name[dot - 1] == '.')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "module name \"", m.name, "\" has an empty component between dots"));
    }
    std::string parent_name = dot == std::string::npos ? "" : m.name.substr(0, dot);
    auto it = tree.index_.find(parent_name);
    if (it == tree.index_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "module \"", m.name, "\" is listed before (or without) its parent \"",
          parent_name, "\"; list modules in named_modules() order"));
    }
    tree.parents_[i] = it->second;
    tree.children_[it->second].push_back(i);
  }
  tree.modules_ = std::move(modules);
  tree.parameters_ = std::move(parameters);
  return tree;
}

absl::optional<int> ModuleTree::Find(absl::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return absl::nullopt;
  return it->second;
}

bool ModuleTree::IsInstance(int index, absl::string_view class_name) const {
  const auto& mro = modules_[index].mro;
  return std::find(mro.begin(), mro.end(), class_name) != mro.end();
}

bool ModuleTree::IsLinear(int index) const {
  return IsInstance(index, "Linear") || IsInstance(index, "LinearBase");
}

namespace {

std::string CommonAncestorOfPair(absl::string_view lo, absl::string_view hi) {
  // os.path.commonprefix(["." + lo + ".", "." + hi + "."]) cut at its last
  // dot, without building the padded strings.
  std::string a = absl::StrCat(".", lo, ".");
  std::string b = absl::StrCat(".", hi, ".");
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  size_t last_dot = a.substr(0, n).rfind('.');
  if (last_dot == std::string::npos || last_dot == 0) return "";
  return a.substr(1, last_dot - 1);
}

}  // namespace

std::string LowestCommonAncestorName(absl::Span<const std::string> names) {
  if (names.empty()) return "";
  auto [lo, hi] = std::minmax_element(names.begin(), names.end());
  return CommonAncestorOfPair(*lo, *hi);
}

std::string LowestCommonAncestorName(absl::string_view name,
                                     const absl::optional<std::string>& context) {
  if (!context.has_value()) return CommonAncestorOfPair(name, name);
  absl::string_view c = *context;
  return name < c ? CommonAncestorOfPair(name, c) : CommonAncestorOfPair(c, name);
}

int LowestCommonAncestorAvoidingModuleList(const ModuleTree& tree,
                                           absl::Span<const std::string> names) {
  std::string ancestor = LowestCommonAncestorName(names);
  while (true) {
    if (ancestor.empty()) return 0;
    absl::optional<int> index = tree.Find(ancestor);
    // The LCA of module names is always a module of the tree; a missing one
    // can only come from names outside it, for which the root is the answer.
    if (!index.has_value()) return 0;
    if (!tree.IsInstance(*index, "ModuleList")) return *index;
    size_t dot = ancestor.rfind('.');
    ancestor = dot == std::string::npos ? "" : ancestor.substr(0, dot);
  }
}

}  // namespace mapping
}  // namespace wring
