#include "mapping/model/internal/module_builder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {
namespace internal {
namespace {

// Attribute names in the order Hugging Face models usually register them
// (Llama-style decoders). Used only to order siblings when the input gives no
// order (safetensors headers and indexes are sorted alphabetically).
constexpr absl::string_view kRegistrationOrder[] = {
    "model", "transformer", "embed_tokens", "wte", "wpe", "word_embeddings",
    "embed_positions", "layers", "h", "self_attn", "linear_attn", "attn",
    "q_proj", "k_proj", "v_proj", "o_proj", "q_norm", "k_norm", "mlp",
    "gate_proj", "up_proj", "down_proj", "act_fn", "input_layernorm",
    "post_attention_layernorm", "pre_feedforward_layernorm",
    "post_feedforward_layernorm", "norm", "ln_f", "rotary_emb", "lm_head",
};

int RegistrationRank(absl::string_view component) {
  int rank = 0;
  for (absl::string_view known : kRegistrationOrder) {
    if (known == component) return rank;
    ++rank;
  }
  return -1;
}

// Compares digit runs by value so that "layer10" sorts after "layer9".
bool NaturalLess(absl::string_view a, absl::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (absl::ascii_isdigit(a[i]) && absl::ascii_isdigit(b[j])) {
      size_t i0 = i, j0 = j;
      while (i0 < a.size() && a[i0] == '0') ++i0;
      while (j0 < b.size() && b[j0] == '0') ++j0;
      size_t i1 = i0, j1 = j0;
      while (i1 < a.size() && absl::ascii_isdigit(a[i1])) ++i1;
      while (j1 < b.size() && absl::ascii_isdigit(b[j1])) ++j1;
      absl::string_view da = a.substr(i0, i1 - i0), db = b.substr(j0, j1 - j0);
      if (da.size() != db.size()) return da.size() < db.size();
      if (da != db) return da < db;
      i = i1;
      j = j1;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

bool SiblingLess(absl::string_view a, absl::string_view b) {
  bool a_index = IsIndexComponent(a), b_index = IsIndexComponent(b);
  if (a_index != b_index) return a_index;
  if (a_index) return NaturalLess(a, b);
  int ra = RegistrationRank(a), rb = RegistrationRank(b);
  if ((ra >= 0) != (rb >= 0)) return ra >= 0;
  if (ra >= 0 && ra != rb) return ra < rb;
  return NaturalLess(a, b);
}

}  // namespace

absl::Status ValidateDottedName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty name");
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name is ", name.size(), " characters long (limit ", kMaxNameLength,
        "); this is not a module name, check the file's format"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == ' ' || c == '\t') {
      return absl::InvalidArgumentError(absl::StrCat(
          "name \"", name, "\" contains whitespace; module names are dotted paths without spaces"));
    }
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "name contains the control character 0x", absl::Hex(c, absl::kZeroPad2),
          " at position ", i, "; module names are printable dotted paths"));
    }
  }
  if (name.front() == '.' || name.back() == '.' || name.find("..") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name \"", name,
        "\" has an empty component (leading, trailing or doubled '.'); write it as "
        "named_modules() prints it, e.g. model.layers.0.mlp"));
  }
  return absl::OkStatus();
}

bool IsIndexComponent(absl::string_view component) {
  if (component.empty()) return false;
  for (char c : component) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

absl::string_view LastComponent(absl::string_view name) {
  size_t dot = name.rfind('.');
  return dot == absl::string_view::npos ? name : name.substr(dot + 1);
}

absl::string_view ParentName(absl::string_view name) {
  size_t dot = name.rfind('.');
  return dot == absl::string_view::npos ? absl::string_view() : name.substr(0, dot);
}

bool IsLinearName(absl::string_view component) {
  return absl::EndsWith(component, "_proj") || component == "lm_head";
}

bool IsEmbeddingName(absl::string_view component) {
  for (absl::string_view known : {"embed_tokens", "wte", "wpe", "word_embeddings",
                                   "embed_positions", "position_embeddings",
                                   "token_type_embeddings", "tok_embeddings"}) {
    if (component == known) return true;
  }
  return false;
}

bool IsNormName(absl::string_view component) {
  return absl::EndsWith(component, "norm") || absl::StartsWith(component, "ln_") ||
         component == "ln";
}

std::string SampleList(const std::vector<std::string>& names, size_t shown) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < shown; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", names[i].empty() ? "(root)" : names[i]);
  }
  if (names.size() > shown) absl::StrAppend(&out, " and ", names.size() - shown, " more");
  return out;
}

ModuleBuilder::ModuleBuilder() {
  nodes_.emplace_back();
  nodes_[0].listed = true;
  index_.emplace("", 0);
}

int ModuleBuilder::Find(absl::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

int ModuleBuilder::Add(absl::string_view name) {
  int existing = Find(name);
  if (existing >= 0) return existing;
  // Iterative so that absurdly deep names cannot exhaust the stack.
  std::vector<absl::string_view> missing;
  absl::string_view cursor = name;
  int parent = -1;
  while (true) {
    parent = Find(cursor);
    if (parent >= 0) break;
    missing.push_back(cursor);
    cursor = ParentName(cursor);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    int index = static_cast<int>(nodes_.size());
    nodes_.emplace_back();
    nodes_.back().module.name = std::string(*it);
    nodes_.back().parent = parent;
    nodes_[parent].children.push_back(index);
    index_.emplace(nodes_.back().module.name, index);
    parent = index;
  }
  return parent;
}

int ModuleBuilder::SynthesizedCount() const {
  int count = 0;
  for (const Node& n : nodes_) count += n.listed ? 0 : 1;
  return count;
}

std::vector<int> ModuleBuilder::PreOrder(ChildOrder order) const {
  std::vector<int> out;
  out.reserve(nodes_.size());
  std::vector<int> stack = {0};
  while (!stack.empty()) {
    int index = stack.back();
    stack.pop_back();
    out.push_back(index);
    std::vector<int> children = nodes_[index].children;
    if (order == ChildOrder::kNatural) {
      std::stable_sort(children.begin(), children.end(), [&](int a, int b) {
        return SiblingLess(LastComponent(nodes_[a].module.name),
                           LastComponent(nodes_[b].module.name));
      });
    }
    stack.insert(stack.end(), children.rbegin(), children.rend());
  }
  return out;
}

std::vector<Module> ModuleBuilder::Flatten(ChildOrder order) const {
  std::vector<Module> out;
  out.reserve(nodes_.size());
  for (int index : PreOrder(order)) out.push_back(nodes_[index].module);
  return out;
}

}  // namespace internal
}  // namespace mapping
}  // namespace wring
