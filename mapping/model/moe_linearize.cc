#include "mapping/model/moe_linearize.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/optional.h"

namespace wring {
namespace mapping {
namespace {

// What one fused-experts module expands to.
struct FusedExperts {
  int module = -1;
  int64_t experts = 0, hidden = 0, intermediate = 0;
  bool gated = true;
  bool gate_up_bias = false, up_bias = false, down_bias = false;
};

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status ShapeError(const std::string& module, absl::string_view detail) {
  return absl::InvalidArgumentError(absl::StrCat(
      "fused experts \"", module, "\": ", detail,
      "; expected gate_up_proj [E, 2I, H] with down_proj [E, H, I] (or the transposed "
      "[E, H, 2I] / [E, I, H]), as transformers builds them"));
}

int64_t HiddenSizeFromConfig(const Json& config) {
  for (const Json* c : {&config, JsonMember(config, "text_config")}) {
    if (c == nullptr) continue;
    absl::optional<int64_t> h = JsonInt(*c, "hidden_size");
    if (h.has_value()) return *h;
  }
  return -1;
}

// What llm-compressor's MoEConfig.from_config reads as the expert count: the
// first of these attributes the experts module's config has (for a
// multimodal model, its text config).
struct ConfigExpertCount {
  std::string key;
  int64_t experts = -1;  // -1: the key is there but not a positive integer
};

absl::optional<ConfigExpertCount> ExpertCountFromConfig(const Json& config) {
  for (const Json* c : {JsonMember(config, "text_config"), &config}) {
    if (c == nullptr || !c->is_object()) continue;
    for (const char* key : {"num_local_experts", "moe_num_experts", "num_experts",
                            "n_routed_experts"}) {
      if (!c->contains(key)) continue;
      ConfigExpertCount count{key, -1};
      absl::optional<int64_t> value = JsonInt(*c, key);
      if (value.has_value() && *value > 0) count.experts = *value;
      return count;
    }
  }
  return absl::nullopt;
}

// transformers classes with fused 3-D expert parameters that llm-compressor
// 0.14 does not linearize: they lack `@use_experts_implementation` (so they
// are not a FusedExpertsProtocol) and have no LinearExperts2D registration.
// Found by listing transformers 5.17's `*Experts(nn.Module)` classes with a
// 3-D down_proj Parameter and no decorator (Llama4TextExperts is undecorated
// but registered by llm-compressor, so it is linearized).
bool LlmCompressorLeavesFused(const std::string& class_name) {
  return class_name == "LongcatFlashExperts" || class_name == "Step3p7Experts" ||
         class_name == "InklingSharedExperts";
}

// Reads E, H, I from the fused parameters. `params` maps a direct parameter
// name ("down_proj") to its shape.
absl::StatusOr<FusedExperts> Measure(
    const std::string& name,
    const absl::flat_hash_map<std::string, const std::vector<int64_t>*>& params,
    int64_t config_hidden, const absl::optional<ConfigExpertCount>& config_experts,
    std::vector<std::string>* notes) {
  auto get = [&](const char* key) -> const std::vector<int64_t>* {
    auto it = params.find(key);
    return it == params.end() ? nullptr : it->second;
  };
  const std::vector<int64_t>* down = get("down_proj");
  const std::vector<int64_t>* gate_up = get("gate_up_proj");
  const std::vector<int64_t>* up = gate_up != nullptr ? gate_up : get("up_proj");
  FusedExperts f;
  f.gated = gate_up != nullptr;
  const std::vector<int64_t>& a = *up;
  const std::vector<int64_t>& d = *down;
  // llm-compressor's LinearExperts2D builds the config's number of experts
  // and copies expert k from row k of each fused tensor, so tensors holding
  // more experts than the config (e.g. zero-compute experts stored with the
  // others) lose the extra rows, and tensors holding fewer fail the copy.
  const char* up_name = f.gated ? "gate_up_proj " : "up_proj ";
  f.experts = a[0];
  const bool config_differs = config_experts.has_value() && config_experts->experts != a[0];
  if (a[0] != d[0] || config_differs) {
    const std::string held = absl::StrCat(up_name, ShapeString(a), " and down_proj ", ShapeString(d));
    if (!config_experts.has_value()) {
      return ShapeError(name, absl::StrCat("expert counts differ (", held,
                                           ") and config.json names no expert count "
                                           "(num_local_experts, moe_num_experts, num_experts or "
                                           "n_routed_experts), which llm-compressor's "
                                           "linearization reads"));
    }
    if (config_experts->experts < 0) {
      return ShapeError(name, absl::StrCat("config.json's \"", config_experts->key,
                                           "\" is not a positive integer; llm-compressor's "
                                           "linearization reads the expert count from it"));
    }
    if (config_experts->experts > std::min(a[0], d[0])) {
      return ShapeError(name, absl::StrCat("config.json's \"", config_experts->key, "\" is ",
                                           config_experts->experts, " but ", held, " hold fewer; ",
                                           "llm-compressor's linearization would fail copying expert ",
                                           std::min(a[0], d[0])));
    }
    f.experts = config_experts->experts;
    notes->push_back(absl::StrCat(
        "fused experts \"", name, "\": ", held, " hold ",
        a[0] == d[0] ? absl::StrCat(a[0]) : absl::StrCat(a[0], " and ", d[0]), " experts; as llm-compressor's linearization does (LinearExperts2D reads \"",
        config_experts->key, "\" = ", f.experts, " from config.json), experts 0..", f.experts - 1,
        " become Linear layers and the tensors' other experts are left out of the compressed "
        "checkpoint"));
  }
  if (f.gated) {
    if (a[2] == d[1] && a[1] == 2 * d[2]) {
      f.hidden = a[2];
      f.intermediate = d[2];
    } else if (a[1] == d[2] && a[2] == 2 * d[1]) {
      f.hidden = a[1];
      f.intermediate = d[1];
    } else {
      return ShapeError(name, absl::StrCat("gate_up_proj ", ShapeString(a), " and down_proj ",
                                           ShapeString(d), " do not fit together"));
    }
  } else {
    if (a[1] != d[2] || a[2] != d[1]) {
      return ShapeError(name, absl::StrCat("up_proj ", ShapeString(a), " and down_proj ",
                                           ShapeString(d), " do not fit together"));
    }
    // [E, I, H] and [E, H, I] read the same transposed; the config decides.
    if (config_hidden == a[1] && config_hidden != a[2]) {
      f.hidden = a[1];
      f.intermediate = a[2];
    } else {
      f.hidden = a[2];
      f.intermediate = a[1];
      if (config_hidden != a[2]) {
        notes->push_back(absl::StrCat("fused experts \"", name,
                                      "\": up_proj/down_proj shapes do not say which side is the "
                                      "hidden size; assumed up_proj is [E, I, H] (I = ",
                                      f.intermediate, ")"));
      }
    }
  }
  auto bias_ok = [&](const char* key, int64_t width, bool* present) -> absl::Status {
    const std::vector<int64_t>* b = get(key);
    if (b == nullptr) return absl::OkStatus();
    if (b->size() != 2 || (*b)[0] != f.experts || (*b)[1] != width) {
      return ShapeError(name, absl::StrCat(key, " is ", ShapeString(*b), ", expected [",
                                           f.experts, ", ", width, "]"));
    }
    *present = true;
    return absl::OkStatus();
  };
  absl::Status s = f.gated ? bias_ok("gate_up_proj_bias", 2 * f.intermediate, &f.gate_up_bias)
                           : bias_ok("up_proj_bias", f.intermediate, &f.up_bias);
  if (!s.ok()) return s;
  s = bias_ok("down_proj_bias", f.hidden, &f.down_bias);
  if (!s.ok()) return s;
  return f;
}

Module LinearModule(std::string name, int64_t in, int64_t out) {
  Module m;
  m.name = std::move(name);
  m.class_name = "Linear";
  m.mro = {"Linear"};
  m.in_features = in;
  m.out_features = out;
  return m;
}

// Appends the expanded modules and parameters of one fused module.
void Expand(const Module& fused_module, const FusedExperts& f, const ModuleTree& tree,
            std::vector<Module>* modules, std::vector<Parameter>* params) {
  Module container = fused_module;
  // LinearExperts2D.get_linear_experts_cls: a registered subclass for some
  // fused classes (with its own expert class for GPT-OSS), else a generic
  // subclass also named LinearExperts2D.
  const std::string& fused_class = fused_module.class_name;
  container.class_name = fused_class == "Llama4TextExperts" ? "Llama4LinearExperts"
                         : fused_class == "GptOssExperts"   ? "GptOssLinearExperts"
                                                            : "LinearExperts2D";
  container.mro = {container.class_name, "LinearExperts2D", "ModuleList"};
  container.in_features = container.out_features = -1;
  modules->push_back(container);
  std::vector<std::string> expert_mro = {f.gated ? "ExpertMLPWithGate" : "ExpertMLPWithoutGate",
                                         "ExpertMLP"};
  if (fused_class == "GptOssExperts") expert_mro.insert(expert_mro.begin(), "GptOssExpertMLP");
  struct Projection {
    const char* name;
    int64_t in, out;
    bool bias;
  };
  const Projection gate{"gate_proj", f.hidden, f.intermediate, f.gate_up_bias};
  const Projection up{"up_proj", f.hidden, f.intermediate, f.gate_up_bias || f.up_bias};
  const Projection down{"down_proj", f.intermediate, f.hidden, f.down_bias};
  // ExpertMLPWithGate registers up_proj before gate_proj.
  Projection order[3] = {up, gate, down};
  int projections = 3;
  if (!f.gated) {
    order[1] = down;
    projections = 2;
  }
  for (int64_t e = 0; e < f.experts; ++e) {
    std::string expert = absl::StrCat(fused_module.name, ".", e);
    Module m;
    m.name = expert;
    m.class_name = expert_mro.front();
    m.mro = expert_mro;
    modules->push_back(std::move(m));
    for (int k = 0; k < projections; ++k) {
      const Projection& p = order[k];
      std::string linear = absl::StrCat(expert, ".", p.name);
      modules->push_back(LinearModule(linear, p.in, p.out));
      params->push_back(Parameter{absl::StrCat(linear, ".weight"), {p.out, p.in}});
      if (p.bias) params->push_back(Parameter{absl::StrCat(linear, ".bias"), {p.out}});
    }
  }
  {
    // LinearExperts2D sets self.act_fn after building the ModuleList.
    Module act;
    act.name = absl::StrCat(fused_module.name, ".act_fn");
    act.class_name = "SiLUActivation";
    absl::optional<int> old = tree.Find(act.name);
    if (old.has_value()) act.class_name = tree.module(*old).class_name;
    act.mro = {act.class_name};
    modules->push_back(std::move(act));
  }
}

}  // namespace

absl::StatusOr<int> LinearizeFusedExperts(ModelInput& model) {
  const ModuleTree& tree = model.tree;
  if (tree.size() == 0) return 0;
  // Most models hold no fused experts, which always have a `down_proj`
  // parameter of their own (3-D, or of unknown shape in an index-only
  // checkpoint); without one a 100k-module tree is not worth indexing.
  bool candidate = false;
  for (const Parameter& p : tree.parameters()) {
    if ((p.shape.size() == 3 || p.shape.empty()) &&
        (p.name == "down_proj" || absl::EndsWith(p.name, ".down_proj"))) {
      candidate = true;
      break;
    }
  }
  if (!candidate) return 0;
  // Direct parameters of each module, by their last name component.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, const std::vector<int64_t>*>>
      direct;
  for (const Parameter& p : tree.parameters()) {
    size_t dot = p.name.rfind('.');
    std::string owner = dot == std::string::npos ? "" : p.name.substr(0, dot);
    direct[owner][p.name.substr(dot == std::string::npos ? 0 : dot + 1)] = &p.shape;
  }
  const int64_t config_hidden = HiddenSizeFromConfig(model.config);
  const absl::optional<ConfigExpertCount> config_experts = ExpertCountFromConfig(model.config);
  std::vector<std::string> notes;
  // Modules of classes llm-compressor does not linearize: name, class.
  std::vector<std::pair<std::string, std::string>> left_fused;
  absl::flat_hash_map<int, FusedExperts> fused;
  std::vector<std::string> unknown_shapes;
  for (int i = 1; i < tree.size(); ++i) {  // the root itself is never an experts module
    auto it = direct.find(tree.module(i).name);
    if (it == direct.end()) continue;
    auto& own = it->second;
    auto shape_of = [&](const char* key) -> const std::vector<int64_t>* {
      auto p = own.find(key);
      return p == own.end() ? nullptr : p->second;
    };
    const std::vector<int64_t>* down = shape_of("down_proj");
    const std::vector<int64_t>* up = shape_of("gate_up_proj");
    if (up == nullptr) up = shape_of("up_proj");
    if (down == nullptr || up == nullptr) continue;
    if (down->empty() || up->empty()) {  // index-only input: no shapes
      unknown_shapes.push_back(tree.module(i).name);
      continue;
    }
    if (down->size() != 3 || up->size() != 3) continue;
    if (LlmCompressorLeavesFused(tree.module(i).class_name)) {
      left_fused.emplace_back(tree.module(i).name, tree.module(i).class_name);
      continue;
    }
    absl::StatusOr<FusedExperts> f =
        Measure(tree.module(i).name, own, config_hidden, config_experts, &notes);
    if (!f.ok()) return f.status();
    f->module = i;
    fused.emplace(i, *f);
  }
  if (!unknown_shapes.empty()) {
    model.notes.push_back(absl::StrCat(
        unknown_shapes.size(), " fused expert module(s) left fused because their parameter "
                               "shapes are unknown (e.g. ", unknown_shapes[0],
        "); give the safetensors shards so that they can be linearized as oneshot does"));
  }
  if (!left_fused.empty()) {
    model.notes.push_back(absl::StrCat(
        left_fused.size(), " fused expert module(s) of class ", left_fused[0].second,
        " left fused (e.g. ", left_fused[0].first,
        "): llm-compressor linearizes only transformers' `use_experts_implementation` expert "
        "classes and the ones it registers, so these experts are no Linear layers and no "
        "quantization scheme reaches them"));
  }
  if (fused.empty()) return 0;

  std::vector<Module> modules;
  std::vector<Parameter> params;
  modules.reserve(tree.size());
  // Parameters are emitted where the first parameter of a replaced subtree was.
  std::string skip_prefix;  // descendants of the module being replaced
  std::set<int64_t> expert_counts;
  absl::flat_hash_map<std::string, int> fused_by_name;
  for (const auto& entry : fused) fused_by_name[tree.module(entry.first).name] = entry.first;
  for (int i = 0; i < tree.size(); ++i) {
    const Module& m = tree.module(i);
    if (!skip_prefix.empty() && absl::StartsWith(m.name, skip_prefix)) continue;
    skip_prefix.clear();
    auto it = fused.find(i);
    if (it == fused.end()) {
      modules.push_back(m);
      continue;
    }
    std::vector<Parameter> unused;
    Expand(m, it->second, tree, &modules, &unused);
    expert_counts.insert(it->second.experts);
    skip_prefix = m.name.empty() ? std::string() : m.name + ".";
  }
  // Parameters: walk the old list; a fused module's subtree is replaced by its
  // experts' parameters at the position of its first parameter.
  absl::flat_hash_map<int, bool> emitted;
  auto owner_of = [&](const std::string& param) -> int {
    // The innermost fused module whose subtree holds `param`, or -1.
    std::string prefix = param;
    while (true) {
      size_t dot = prefix.rfind('.');
      if (dot == std::string::npos) return -1;
      prefix.resize(dot);
      auto f = fused_by_name.find(prefix);
      if (f != fused_by_name.end()) return f->second;
    }
  };
  for (const Parameter& p : tree.parameters()) {
    int owner = owner_of(p.name);
    if (owner < 0) {
      params.push_back(p);
      continue;
    }
    if (emitted[owner]) continue;
    emitted[owner] = true;
    std::vector<Module> unused;
    Expand(tree.module(owner), fused[owner], tree, &unused, &params);
  }

  absl::StatusOr<ModuleTree> rebuilt = ModuleTree::Create(std::move(modules), std::move(params));
  if (!rebuilt.ok()) return rebuilt.status();
  model.tree = *std::move(rebuilt);
  const int count = static_cast<int>(fused.size());
  model.linearized_experts += count;
  std::string per_module =
      expert_counts.size() == 1
          ? absl::StrCat(*expert_counts.begin(), " experts each")
          : absl::StrCat(absl::StrJoin(expert_counts, "/"), " experts");
  model.notes.push_back(absl::StrCat("linearized ", count, " fused expert modules (", per_module,
                                     ") as llm-compressor's oneshot does before AWQ"));
  for (std::string& n : notes) model.notes.push_back(std::move(n));
  return count;
}

}  // namespace mapping
}  // namespace wring
