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

// os.path.commonprefix(["." + lo + ".", "." + hi + "."]) cut at its last
// dot, computed without building the padded strings: the result is always
// a prefix of `lo`.
absl::string_view CommonAncestorOfPair(absl::string_view lo, absl::string_view hi) {
  size_t n = 0;
  const size_t limit = std::min(lo.size(), hi.size());
  while (n < limit && lo[n] == hi[n]) ++n;
  // The padded strings also agree on the character after the common part
  // when both continue with a dot (or end, which pads to a dot).
  const char next_lo = n < lo.size() ? lo[n] : '.';
  const char next_hi = n < hi.size() ? hi[n] : '.';
  if (next_lo == '.' && next_hi == '.') return lo.substr(0, n);
  size_t dot = lo.substr(0, n).rfind('.');
  return dot == absl::string_view::npos ? absl::string_view() : lo.substr(0, dot);
}

}  // namespace

absl::string_view LowestCommonAncestorNameView(absl::string_view name,
                                               absl::string_view context) {
  return name < context ? CommonAncestorOfPair(name, context)
                        : CommonAncestorOfPair(context, name);
}

std::string LowestCommonAncestorName(absl::Span<const std::string> names) {
  if (names.empty()) return "";
  auto [lo, hi] = std::minmax_element(names.begin(), names.end());
  return std::string(CommonAncestorOfPair(*lo, *hi));
}

std::string LowestCommonAncestorName(absl::string_view name,
                                     const absl::optional<std::string>& context) {
  if (!context.has_value()) return std::string(name);
  return std::string(LowestCommonAncestorNameView(name, *context));
}

int LowestCommonAncestorAvoidingModuleList(const ModuleTree& tree,
                                           absl::Span<const int> modules) {
  if (modules.empty()) return 0;
  absl::string_view lo = tree.module(modules[0]).name, hi = lo;
  for (int m : modules) {
    absl::string_view name = tree.module(m).name;
    if (name < lo) lo = name;
    if (hi < name) hi = name;
  }
  absl::string_view ancestor = CommonAncestorOfPair(lo, hi);
  while (true) {
    if (ancestor.empty()) return 0;
    absl::optional<int> index = tree.Find(ancestor);
    // The LCA of module names is always a module of the tree.
    if (!index.has_value()) return 0;
    if (!tree.IsInstance(*index, "ModuleList")) return *index;
    size_t dot = ancestor.rfind('.');
    ancestor = dot == absl::string_view::npos ? absl::string_view() : ancestor.substr(0, dot);
  }
}

}  // namespace mapping
}  // namespace wring
