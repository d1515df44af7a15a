#include "mapping/spinquant/spinquant_transforms.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/python_repr.h"
#include "mapping/base/status_macros.h"
#include "mapping/match/match_table.h"
#include "mapping/match/matchers.h"

namespace wring {
namespace mapping {
namespace spinquant {
namespace {

constexpr const char* kRotations[] = {"R1", "R2", "R3", "R4"};
constexpr const char* kTransformTypes[] = {"hadamard", "random-hadamard", "random-matrix"};

bool IsPowerOfTwo(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

// Sizes of the known Hadamard matrices in compressed-tensors'
// hadamards.safetensors: 1, 2, 4, 8, 12, then every multiple of 4 to 256.
bool HasRandomHadamardDivisor(int64_t n) {
  std::vector<int64_t> divisors = {1, 2, 4, 8};
  for (int64_t k = 12; k <= 256; k += 4) divisors.push_back(k);
  for (int64_t k : divisors) {
    if (n % k == 0 && IsPowerOfTwo(n / k)) return true;
  }
  return false;
}

// Python's `a // b` (floor division) for b != 0.
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::vector<std::string> UpperCased(const std::vector<std::string>& rotations) {
  std::vector<std::string> out;
  for (const std::string& r : rotations) out.push_back(absl::AsciiStrToUpper(r));
  return out;
}

bool Contains(const std::vector<std::string>& items, absl::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

template <size_t N>
bool OneOf(const char* const (&choices)[N], absl::string_view item) {
  for (const char* choice : choices) {
    if (item == choice) return true;
  }
  return false;
}

std::vector<std::string> Concat(std::vector<std::string> head,
                                const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

bool IsInputLocation(absl::string_view location) {
  return location == "input" || location == "weight_input";
}

const Parameter* FindParameter(const ModuleTree& tree, absl::string_view name) {
  for (const Parameter& p : tree.parameters()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// get_transform_size without its head_dim handling: the layer's own size, or
// nullopt when the module dump does not record it.
absl::optional<int64_t> LayerSize(const ModuleTree& tree, int index, absl::string_view location) {
  const Module& module = tree.module(index);
  if (tree.IsInstance(index, "Linear")) {
    int64_t size = IsInputLocation(location) ? module.in_features : module.out_features;
    if (size < 0) return absl::nullopt;
    return size;
  }
  // Embedding(num_embeddings, embedding_dim) stores weight as [num, dim].
  const Parameter* weight = FindParameter(tree, absl::StrCat(module.name, ".weight"));
  if (weight == nullptr || weight->shape.size() != 2) return absl::nullopt;
  return IsInputLocation(location) ? weight->shape[0] : weight->shape[1];
}

absl::Status CheckMatrixConstructible(absl::string_view type, int64_t size) {
  if (type == "hadamard") {
    if (size <= 0) {
      return absl::InvalidArgumentError("Cannot construct deterministic hadamard of size <= 0");
    }
    if (!IsPowerOfTwo(size)) {
      return absl::InvalidArgumentError("Cannot construct deterministic hadamard of size != 2^n");
    }
  } else if (type == "random-hadamard") {
    if (!HasRandomHadamardDivisor(size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Cannot construct random hadamard matrix of size ", size));
    }
  }
  return absl::OkStatus();
}

Json OptionalInt(const absl::optional<int64_t>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json StringList(const std::vector<std::string>& items) {
  Json list = Json::array();
  for (const std::string& item : items) list.push_back(item);
  return list;
}

}  // namespace

absl::StatusOr<absl::optional<int64_t>> HeadDimFromConfig(const Json& config) {
  if (!config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.json: expected a JSON object, got ", JsonTypeName(config),
        "; SpinQuant reads head_dim (or hidden_size and num_attention_heads) from it"));
  }
  // hasattr(config, "head_dim") is true for an explicit null, which then
  // comes back as None.
  if (const Json* head_dim = JsonMember(config, "head_dim")) {
    if (head_dim->is_null()) return absl::optional<int64_t>();
    if (!head_dim->is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config.json: head_dim must be an integer or null, got ", JsonTypeName(*head_dim)));
    }
    return absl::optional<int64_t>(head_dim->get<int64_t>());
  }
  const Json* hidden = JsonMember(config, "hidden_size");
  const Json* heads = JsonMember(config, "num_attention_heads");
  if (hidden != nullptr && heads != nullptr) {
    if (!hidden->is_number_integer() || !heads->is_number_integer()) {
      return absl::InvalidArgumentError(
          "config.json: hidden_size and num_attention_heads must be integers to derive "
          "head_dim (hidden_size // num_attention_heads); set head_dim explicitly");
    }
    int64_t num_heads = heads->get<int64_t>();
    if (num_heads == 0) {
      return absl::InvalidArgumentError("integer division or modulo by zero");
    }
    return absl::optional<int64_t>(FloorDiv(hidden->get<int64_t>(), num_heads));
  }
  // Upstream appends the config's repr (its class name and JSON); the class
  // name is not known here, so the JSON stands in for it.
  return absl::InvalidArgumentError(absl::StrCat(
      "Cannot determine head_dim from config. Config must define either `head_dim` or both "
      "`hidden_size` and `num_attention_heads`. ",
      config.dump(2)));
}

SpinQuantOptions SpinQuantOptionsFromRecipe(const recipe::SpinQuantModifier& modifier) {
  SpinQuantOptions options;
  if (modifier.has_rotations()) {
    options.rotations.assign(modifier.rotations().begin(), modifier.rotations().end());
  }
  if (modifier.has_transform_type()) options.transform_type = modifier.transform_type();
  if (modifier.has_randomize()) options.randomize = modifier.randomize();
  if (modifier.has_learnable()) options.learnable = modifier.learnable();
  if (modifier.has_precision()) options.precision = modifier.precision();
  if (modifier.has_transform_block_size()) options.transform_block_size = modifier.transform_block_size();
  return options;
}

absl::Status ValidateSpinQuantOptions(const SpinQuantOptions& options) {
  // These validators raise NotImplementedError, which pydantic does not
  // collect into a ValidationError, so they win over any other problem.
  if (options.randomize) {
    return absl::UnimplementedError("randomize is not supported as of now");
  }
  if (options.learnable) {
    return absl::UnimplementedError("learnable is not supported as of now");
  }
  std::vector<std::string> rotations = UpperCased(options.rotations);
  for (size_t i = 0; i < rotations.size(); ++i) {
    if (!OneOf(kRotations, rotations[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SpinQuantModifier.rotations[", i, "]: ", PythonStrRepr(options.rotations[i]),
          " is not a rotation (Input should be 'R1', 'R2', 'R3' or 'R4')"));
    }
  }
  if (!OneOf(kTransformTypes, options.transform_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("SpinQuantModifier.transform_type: ", PythonStrRepr(options.transform_type),
                     " is not supported (Input should be 'hadamard', 'random-hadamard' or "
                     "'random-matrix')"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TransformConfig> BuildTransformConfig(const SpinQuantMapping& m,
                                                     const SpinQuantOptions& options,
                                                     absl::optional<int64_t> model_head_dim) {
  WRING_RETURN_IF_ERROR(ValidateSpinQuantOptions(options));
  const std::vector<std::string> rotations = UpperCased(options.rotations);

  auto scheme = [&](absl::optional<int64_t> head_dim, std::vector<TransformArgs> apply) {
    TransformScheme s;
    s.type = options.transform_type;
    s.apply = std::move(apply);
    s.randomize = options.randomize;
    s.requires_grad = options.learnable;
    s.head_dim = head_dim;
    s.precision = options.precision;
    return s;
  };
  auto args = [](std::vector<std::string> targets, const char* location, bool inverse) {
    TransformArgs a;
    a.targets = std::move(targets);
    a.location = location;
    a.inverse = inverse;
    return a;
  };

  TransformConfig config;
  if (Contains(rotations, "R1")) {
    // Residual stream: rotate what writes to it, undo on what reads it.
    config.config_groups.emplace_back(
        "R1", scheme(options.transform_block_size,
                     {args(Concat({m.embedding, m.attn_o}, m.mlp_out), "weight_output", false),
                      args(Concat(Concat({m.attn_q, m.attn_k, m.attn_v}, m.mlp_in), {m.lm_head}),
                           "weight_input", true)}));
  }
  if (Contains(rotations, "R2")) {
    config.config_groups.emplace_back(
        "R2", scheme(model_head_dim, {args({m.attn_v}, "weight_output", false),
                                      args({m.attn_o}, "weight_input", true)}));
  }
  if (Contains(rotations, "R3")) {
    config.config_groups.emplace_back(
        "R3", scheme(model_head_dim,
                     {args({m.attn}, "q_attn", false), args({m.attn}, "k_cache", false)}));
  }
  if (Contains(rotations, "R4")) {
    config.config_groups.emplace_back(
        "R4", scheme(options.transform_block_size,
                     {args(m.mlp_out, "input", false), args(m.mlp_out, "weight_input", true)}));
  }
  return config;
}

absl::StatusOr<TransformConfig> BuildTransformConfig(const SpinQuantMapping& mapping,
                                                     const SpinQuantOptions& options,
                                                     const Json& config) {
  // on_initialize: the modifier's own validation runs at construction, before
  // get_head_dim.
  WRING_RETURN_IF_ERROR(ValidateSpinQuantOptions(options));
  WRING_ASSIGN_OR_RETURN(absl::optional<int64_t> head_dim, HeadDimFromConfig(config));
  return BuildTransformConfig(mapping, options, head_dim);
}

Json TransformConfigToJson(const TransformConfig& config) {
  Json groups = Json::object();
  for (const auto& [name, scheme] : config.config_groups) {
    Json apply = Json::array();
    for (const TransformArgs& a : scheme.apply) {
      Json entry = Json::object();
      entry["targets"] = StringList(a.targets);
      entry["location"] = a.location;
      entry["inverse"] = a.inverse;
      entry["ignore"] = StringList(a.ignore);
      apply.push_back(std::move(entry));
    }
    Json s = Json::object();
    s["type"] = scheme.type;
    s["apply"] = std::move(apply);
    s["randomize"] = scheme.randomize;
    s["requires_grad"] = scheme.requires_grad;
    s["head_dim"] = OptionalInt(scheme.head_dim);
    s["precision"] = scheme.precision;
    groups[name] = std::move(s);
  }
  Json out = Json::object();
  out["config_groups"] = std::move(groups);
  return out;
}

std::string PythonTypeRepr(const Module& module) {
  if (module.class_name == "Linear") return "<class 'torch.nn.modules.linear.Linear'>";
  if (module.class_name == "Embedding") return "<class 'torch.nn.modules.sparse.Embedding'>";
  return absl::StrCat("<class '", module.class_name, "'>");
}

absl::StatusOr<TransformPlan> PlanTransforms(const ModuleTree& tree,
                                             const TransformConfig& config) {
  PatternRegistry registry;
  struct ResolvedArgs {
    std::vector<int> targets;
    std::vector<int> ignore;
  };
  std::vector<std::vector<ResolvedArgs>> resolved;
  for (const auto& group : config.config_groups) {
    const TransformScheme& scheme = group.second;
    if (!OneOf(kTransformTypes, scheme.type)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "transform_config.config_groups.", group.first, ".type: ", PythonStrRepr(scheme.type),
          " is not a registered transform type; use 'hadamard', 'random-hadamard' or "
          "'random-matrix'"));
    }
    std::vector<ResolvedArgs> per_scheme;
    for (const TransformArgs& a : scheme.apply) {
      ResolvedArgs r;
      WRING_ASSIGN_OR_RETURN(r.targets, registry.AddAll(a.targets));
      WRING_ASSIGN_OR_RETURN(r.ignore, registry.AddAll(a.ignore));
      per_scheme.push_back(std::move(r));
    }
    resolved.push_back(std::move(per_scheme));
  }
  WRING_ASSIGN_OR_RETURN(MatchTable table, MatchTable::Build(tree, registry));

  TransformPlan plan;
  for (size_t g = 0; g < config.config_groups.size(); ++g) {
    const auto& [name, scheme] = config.config_groups[g];
    // apply_to_model matches every apply entry before transforming any module.
    std::vector<std::pair<int, int>> module_args;
    for (size_t a = 0; a < scheme.apply.size(); ++a) {
      NamedModuleMatches matches =
          MatchNamedModules(tree, table, resolved[g][a].targets, resolved[g][a].ignore);
      for (int m : matches.modules) module_args.emplace_back(m, static_cast<int>(a));
    }
    for (const auto& [m, a] : module_args) {
      const TransformArgs& args = scheme.apply[a];
      const Module& module = tree.module(m);
      TransformPlacement placement;
      placement.scheme = name;
      placement.apply_index = a;
      placement.module = m;
      placement.location = args.location;
      placement.inverse = args.inverse;

      const bool sized_layer = tree.IsInstance(m, "Linear") || tree.IsInstance(m, "Embedding");
      absl::optional<int64_t> size;
      if (sized_layer) {
        size = LayerSize(tree, m, args.location);
        if (!size) {
          plan.notes.push_back(
              absl::StrCat(name, " at ", args.location, " on ", module.name,
                           ": the module dump gives no feature counts (Linear `in`/`out`, or an "
                           "Embedding's `weight` shape in `params`), so its transform size was not "
                           "checked"));
        }
      } else if (!scheme.head_dim) {
        plan.error = absl::UnimplementedError(absl::StrCat("Transforms on ", PythonTypeRepr(module),
                                                           " are not supported without head_dim"));
        return plan;
      }
      if (scheme.head_dim) {
        const int64_t head_dim = *scheme.head_dim;
        if (size) {
          if (head_dim == 0) {
            plan.error = absl::InvalidArgumentError("integer modulo by zero");
            return plan;
          }
          if (*size % head_dim != 0) {
            plan.error = absl::InvalidArgumentError(absl::StrCat(head_dim, " must divide ", *size,
                                                                 " for ", PythonTypeRepr(module),
                                                                 " at ", args.location));
            return plan;
          }
        }
        size = head_dim;
      }
      if (size) {
        absl::Status constructible = CheckMatrixConstructible(scheme.type, *size);
        if (!constructible.ok()) {
          plan.error = constructible;
          return plan;
        }
      }
      placement.size = size;
      plan.placements.push_back(std::move(placement));
    }
  }
  return plan;
}

}  // namespace spinquant
}  // namespace mapping
}  // namespace wring
