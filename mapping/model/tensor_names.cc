#include "mapping/model/tensor_names.h"

#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mapping/model/internal/module_builder.h"

namespace wring {
namespace mapping {
namespace {

using internal::ModuleBuilder;

struct Holder {
  // Parameter name (last component) -> index into the input tensors.
  std::vector<std::pair<std::string, int>> params;
  const NamedTensor* Find(absl::string_view name, absl::Span<const NamedTensor> tensors) const {
    for (const auto& p : params) {
      if (p.first == name) return &tensors[p.second];
    }
    return nullptr;
  }
};

bool HasIndexChildren(const ModuleBuilder& builder, int node) {
  for (int child : builder.node(node).children) {
    if (internal::IsIndexComponent(internal::LastComponent(builder.node(child).module.name))) {
      return true;
    }
  }
  return false;
}

bool HasSibling(const ModuleBuilder& builder, int node, absl::string_view sibling) {
  int parent = builder.node(node).parent;
  if (parent < 0) return false;
  for (int child : builder.node(parent).children) {
    if (internal::LastComponent(builder.node(child).module.name) == sibling) return true;
  }
  return false;
}

bool IsRank(const NamedTensor* t, size_t rank) {
  return t != nullptr && (!t->shape_known || t->shape.size() == rank);
}

// The class of one module and, for Linear, its features.
void Classify(ModuleBuilder& builder, int node, const Holder* holder,
              absl::Span<const NamedTensor> tensors) {
  Module& m = builder.node(node).module;
  absl::string_view last = internal::LastComponent(m.name);
  if (HasIndexChildren(builder, node)) {
    m.class_name = "ModuleList";
    return;
  }
  m.class_name = "Module";
  if (holder == nullptr) return;
  const NamedTensor* down = holder->Find("down_proj", tensors);
  const NamedTensor* gate_up = holder->Find("gate_up_proj", tensors);
  const NamedTensor* up = holder->Find("up_proj", tensors);
  if (IsRank(down, 3) && (IsRank(gate_up, 3) || IsRank(up, 3))) {
    m.class_name = "FusedExperts";
    return;
  }
  if (holder->Find("weight_packed", tensors) != nullptr ||
      holder->Find("qweight", tensors) != nullptr) {
    m.class_name = "Linear";
    return;
  }
  const NamedTensor* weight = holder->Find("weight", tensors);
  if (weight == nullptr) return;
  bool router = last == "gate" && HasSibling(builder, node, "experts");
  if (!weight->shape_known) {
    if (internal::IsEmbeddingName(last)) {
      m.class_name = "Embedding";
    } else if (internal::IsNormName(last)) {
      m.class_name = "RMSNorm";
    } else if (router) {
      m.class_name = "TopKRouter";
    } else if (absl::StrContains(last, "conv")) {
      m.class_name = "Conv1d";
    } else {
      m.class_name = "Linear";
    }
    return;
  }
  switch (weight->shape.size()) {
    case 1:
      m.class_name = holder->Find("bias", tensors) != nullptr ? "LayerNorm" : "RMSNorm";
      break;
    case 2:
      if (internal::IsEmbeddingName(last)) {
        m.class_name = "Embedding";
      } else if (router) {
        m.class_name = "TopKRouter";
      } else {
        m.class_name = "Linear";
        m.in_features = weight->shape[1];
        m.out_features = weight->shape[0];
      }
      break;
    case 3:
      m.class_name = "Conv1d";
      break;
    case 4:
      m.class_name = "Conv2d";
      break;
    default:
      break;
  }
}

bool ConfigSaysTied(const Json& config, bool* explicitly) {
  for (const Json* c : {&config, JsonMember(config, "text_config")}) {
    if (c == nullptr) continue;
    absl::optional<bool> tied = JsonBool(*c, "tie_word_embeddings");
    if (tied.has_value()) {
      *explicitly = true;
      return *tied;
    }
  }
  *explicitly = false;
  return true;  // PretrainedConfig's default
}

}  // namespace

absl::StatusOr<ModelInput> ModelFromTensorNames(absl::Span<const NamedTensor> tensors,
                                                const Json& config, absl::string_view source) {
  if (tensors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the checkpoint lists no tensors, so there is no model to read"));
  }
  ModelInput input;
  input.config = config.is_object() ? config : Json::object();
  if (const Json* archs = JsonMember(input.config, "architectures")) {
    if (archs->is_array() && !archs->empty() && (*archs)[0].is_string()) {
      input.architecture = (*archs)[0].get<std::string>();
    }
  }
  ModuleBuilder builder;
  builder.node(0).module.class_name = input.architecture;
  absl::flat_hash_map<int, Holder> holders;
  absl::flat_hash_map<std::string, int> seen;
  bool all_shapes = true;
  for (int i = 0; i < static_cast<int>(tensors.size()); ++i) {
    const NamedTensor& t = tensors[i];
    absl::Status valid = internal::ValidateDottedName(t.name);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor #", i, ": ", valid.message()));
    }
    if (!seen.emplace(t.name, i).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": tensor \"", t.name, "\" is listed twice; a checkpoint names each tensor once"));
    }
    all_shapes &= t.shape_known;
    int node = builder.Add(internal::ParentName(t.name));
    builder.node(node).listed = true;
    holders[node].params.emplace_back(std::string(internal::LastComponent(t.name)), i);
  }
  for (const NamedTensor& t : tensors) {
    if (builder.Find(t.name) >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": \"", t.name,
          "\" is both a tensor and the prefix of other tensors; the checkpoint's names are "
          "inconsistent"));
    }
  }

  std::map<std::string, int> class_counts;
  for (int i = 1; i < builder.size(); ++i) {
    auto it = holders.find(i);
    Classify(builder, i, it == holders.end() ? nullptr : &it->second, tensors);
    ++class_counts[builder.node(i).module.class_name];
  }

  // A tied lm_head has no tensor of its own but is a registered module.
  bool tie_explicit = false;
  bool tied = ConfigSaysTied(input.config, &tie_explicit);
  bool causal = absl::EndsWith(input.architecture, "ForCausalLM") ||
                absl::EndsWith(input.architecture, "ForConditionalGeneration");
  if (tied && causal && builder.Find("lm_head") < 0) {
    const Module* embedding = nullptr;
    for (int i = 1; i < builder.size(); ++i) {
      const Module& m = builder.node(i).module;
      if (m.class_name == "Embedding" && internal::LastComponent(m.name) == "embed_tokens") {
        embedding = &m;
        break;
      }
    }
    if (embedding != nullptr) {
      std::string embedding_name = embedding->name;
      const NamedTensor* weight = &tensors[seen[embedding_name + ".weight"]];
      int node = builder.Add("lm_head");
      Module& head = builder.node(node).module;
      head.class_name = "Linear";
      if (weight->shape_known && weight->shape.size() == 2) {
        head.in_features = weight->shape[1];
        head.out_features = weight->shape[0];
      }
      ++class_counts["Linear"];
      input.notes.push_back(absl::StrCat(
          "lm_head added as a Linear tied to ", embedding_name,
          " (the checkpoint stores no lm_head weight; tie_word_embeddings is ",
          tie_explicit ? "true in the config" : "not set, and defaults to true", ")"));
    }
  }

  std::string classes;
  for (const auto& c : class_counts) {
    absl::StrAppend(&classes, classes.empty() ? "" : ", ", c.second, " ", c.first);
  }
  input.notes.push_back(absl::StrCat(
      "module classes inferred from tensor names", all_shapes ? " and shapes" : "", ": ",
      classes,
      " (generic names: class-based targets other than Linear/Embedding may not match)"));
  if (input.architecture.empty()) {
    input.notes.push_back(
        "the root's class (the architecture) is unknown: pass config.json beside the weights");
  }
  input.notes.push_back(
      "module order inferred: checkpoints store names alphabetically, so siblings are ordered "
      "by common Hugging Face registration order, then alphabetically");
  if (!all_shapes) {
    int unknown = 0;
    for (int i = 1; i < builder.size(); ++i) {
      const Module& m = builder.node(i).module;
      unknown += m.class_name == "Linear" && m.in_features < 0 ? 1 : 0;
    }
    input.notes.push_back(absl::StrCat(
        "tensor shapes unknown (index only): ", unknown,
        " Linear modules have in/out features -1 and classes were guessed from names; "
        "give the shard files for exact shapes"));
  }

  std::vector<int> order = builder.PreOrder(ModuleBuilder::ChildOrder::kNatural);
  std::vector<Module> modules;
  std::vector<Parameter> params;
  modules.reserve(order.size());
  params.reserve(tensors.size());
  for (int node : order) {
    modules.push_back(builder.node(node).module);
    auto it = holders.find(node);
    if (it == holders.end()) continue;
    std::vector<std::pair<std::string, int>> own = it->second.params;
    std::stable_sort(own.begin(), own.end(), [](const auto& a, const auto& b) {
      auto rank = [](const std::string& n) { return n == "weight" ? 0 : n == "bias" ? 1 : 2; };
      return rank(a.first) < rank(b.first);
    });
    for (const auto& p : own) {
      const NamedTensor& t = tensors[p.second];
      params.push_back(Parameter{t.name, t.shape_known ? t.shape : std::vector<int64_t>{}});
    }
  }
  absl::StatusOr<ModuleTree> tree = ModuleTree::Create(std::move(modules), std::move(params));
  if (!tree.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", tree.status().message()));
  input.tree = *std::move(tree);
  input.source_kind = all_shapes ? "safetensors" : "safetensors-index";
  return input;
}

}  // namespace mapping
}  // namespace wring
