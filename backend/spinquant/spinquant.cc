#include "backend/spinquant/spinquant.h"


#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>
#include <type_traits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"
#include "backend/compress/quantization_config.h"
#include "backend/cpu_kernels/parallel_for.h"
#include "backend/spinquant/hadamard.h"
#include "mapping/base/status_macros.h"
#include "mapping/check/reference_versions.h"
#include "mapping/spinquant/spinquant_resolution.h"
#include "mapping/spinquant/spinquant_transforms.h"

namespace wring {
namespace backend {
namespace spinquant {

namespace ms = ::wring::mapping::spinquant;

struct SpinQuant::Operation {
  std::string scheme;
  std::string module;
  // "weight_input", "weight_output", or online: "input" (a Linear's input),
  // "q_attn" / "k_cache" (an attention's query / key states after RoPE)
  std::string location;
  bool embedding = false;
  // The matrix the transform multiplies by (TransformBase.forward): for the
  // Hadamard types the matrix or, for inverse args, its transpose; for
  // random-matrix the matrix or its float64 inverse.
  torch::Tensor matrix;
  torch::Tensor stored;  // the factory's weight as created (what is saved)
  // sqrt(block size) for the Hadamard types, as a float64 0-dim tensor like
  // HadamardTransform._scale; undefined for random-matrix.
  torch::Tensor scale;
  // The matrix is Sylvester's ("hadamard"): FastWalshHadamard computes the
  // product in n log n additions instead of a matmul (same values but for
  // float64 summation order).
  bool sylvester = false;
};

namespace {

using Operation = SpinQuant::Operation;

// TorchDtype: "torch.xxx" or "xxx", any torch attribute naming a dtype.
absl::StatusOr<std::pair<torch::ScalarType, std::string>> ParsePrecision(const std::string& text) {
  std::string name = text;
  if (absl::StartsWith(name, "torch.")) name = name.substr(6);
  static const auto* known = new std::map<std::string, std::pair<torch::ScalarType, std::string>>{
      {"float64", {torch::kFloat64, "torch.float64"}}, {"double", {torch::kFloat64, "torch.float64"}},
      {"float32", {torch::kFloat32, "torch.float32"}}, {"float", {torch::kFloat32, "torch.float32"}},
      {"float16", {torch::kFloat16, "torch.float16"}}, {"half", {torch::kFloat16, "torch.float16"}},
      {"bfloat16", {torch::kBFloat16, "torch.bfloat16"}}};
  auto it = known->find(name);
  if (it == known->end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SpinQuantModifier.precision: '", text,
        "' is not a floating dtype wring supports; use float64 (the default), float32, "
        "bfloat16 or float16"));
  }
  return it->second;
}

// compressed-tensors' _multihead_matmul: A @ B, the smaller operand repeated
// block-diagonally to the larger one's size.
torch::Tensor MultiheadMatmul(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.size(-1) > b.size(-2)) {
    const int64_t head_dim = b.size(-2);
    return torch::matmul(a.unflatten(-1, {a.size(-1) / head_dim, head_dim}), b).flatten(-2, -1);
  }
  if (a.size(-1) < b.size(-2)) {
    const int64_t head_dim = a.size(-1);
    return torch::matmul(a, b.unflatten(-2, {b.size(-2) / head_dim, head_dim})).flatten(-3, -2);
  }
  return torch::matmul(a, b);
}

bool IsOnline(const std::string& location) {
  return location == "input" || location == "q_attn" || location == "k_cache";
}

template <typename T>
T RoundFromDouble(double v) {
  // As Tensor.to(dtype) from float64: through float for the 16-bit types.
  if constexpr (std::is_same_v<T, double>) {
    return v;
  } else {
    return T(static_cast<float>(v));
  }
}

// The CPU path: each row read into a float64 buffer, transformed in cache,
// divided by the scale and rounded back, in one pass (the tensor-op path
// converts, transforms, divides and rounds the whole tensor in turn).
template <typename T>
void SylvesterRowsOnCpu(const torch::Tensor& in, torch::Tensor& out, int64_t n, double scale) {
  const int64_t width = in.size(-1), rows = in.numel() / width;
  const T* source = in.data_ptr<T>();
  T* target = out.data_ptr<T>();
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> row(width);
    for (int64_t r = begin; r < end; ++r) {
      if constexpr (std::is_same_v<T, double>) {
        std::copy(source + r * width, source + (r + 1) * width, row.begin());
      } else {
        for (int64_t c = 0; c < width; ++c) row[c] = static_cast<float>(source[r * width + c]);
      }
      for (int64_t block = 0; block < width; block += n) FastWalshHadamardInPlace(row.data() + block, n);
      for (int64_t c = 0; c < width; ++c) target[r * width + c] = RoundFromDouble<T>(row[c] / scale);
    }
  });
}

// Sylvester blocks by the fast Walsh-Hadamard transform instead of a matmul.
torch::Tensor ApplySylvester(const Operation& op, const torch::Tensor& value) {
  const int64_t n = op.matrix.size(0);
  // Block-diagonal H (symmetric) on the side _multihead_matmul would use:
  // rows of value (value @ H) or its columns (H @ value).
  const bool columns = !IsOnline(op.location) &&
                       (op.embedding ? op.location == "weight_input" : op.location == "weight_output");
  const torch::Tensor rows = (columns ? value.transpose(-1, -2) : value).contiguous();
  const auto dtype = value.scalar_type();
  torch::Tensor out;
  if (value.device().is_cpu() && op.matrix.scalar_type() == torch::kFloat64 &&
      (dtype == torch::kBFloat16 || dtype == torch::kHalf || dtype == torch::kFloat32 ||
       dtype == torch::kFloat64)) {
    out = torch::empty_like(rows);
    const double scale = op.scale.item<double>();
    if (dtype == torch::kBFloat16) SylvesterRowsOnCpu<c10::BFloat16>(rows, out, n, scale);
    if (dtype == torch::kHalf) SylvesterRowsOnCpu<c10::Half>(rows, out, n, scale);
    if (dtype == torch::kFloat32) SylvesterRowsOnCpu<float>(rows, out, n, scale);
    if (dtype == torch::kFloat64) SylvesterRowsOnCpu<double>(rows, out, n, scale);
  } else {
    const torch::Tensor wide = rows.to(op.matrix.scalar_type());
    out = (FastWalshHadamard(wide.unflatten(-1, {wide.size(-1) / n, n})).flatten(-2, -1) /
           op.scale.to(value.device()))
              .to(dtype);
  }
  return columns ? out.transpose(-1, -2).contiguous() : out;
}

// TransformBase.forward on `value` (apply_transform_weight, then the
// Hadamard scale), back in value's dtype.
torch::Tensor ApplyTransform(const Operation& op, const torch::Tensor& value) {
  if (op.sylvester) return ApplySylvester(op, value);
  const torch::Tensor t = op.matrix.to(value.device());
  const torch::Tensor v = value.to(t.scalar_type());
  torch::Tensor out;
  if (IsOnline(op.location)) {
    out = MultiheadMatmul(v, t);
  } else if (!op.embedding) {
    out = op.location == "weight_input" ? MultiheadMatmul(v, t.t()) : MultiheadMatmul(t.t(), v);
  } else {
    out = op.location == "weight_input" ? MultiheadMatmul(t, v) : MultiheadMatmul(v, t);
  }
  if (op.scale.defined()) out = out / op.scale.to(out.device());
  return out.to(value.scalar_type());
}

absl::Status CheckDivides(const Operation& op, int64_t features) {
  const int64_t block = op.matrix.size(0);
  if (features % block != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SpinQuant ", op.scheme, " on ", op.module, " at ", op.location, ": block size ", block,
        " does not divide ", features, " features"));
  }
  return absl::OkStatus();
}

// A scheme's TransformFactory: one generator, matrices cached by (size,
// dtype) in creation order.
class Factory {
 public:
  explicit Factory(std::string type) : type_(std::move(type)), generator_(NewDefaultGenerator()) {}

  absl::StatusOr<torch::Tensor> Weight(int64_t size, torch::ScalarType dtype) {
    const auto key = std::make_pair(size, dtype);
    auto it = weights_.find(key);
    if (it != weights_.end()) return it->second;
    absl::StatusOr<torch::Tensor> made;
    if (type_ == "hadamard") {
      made = DeterministicHadamard(size, dtype);
    } else if (type_ == "random-hadamard") {
      made = RandomHadamard(size, dtype, generator_);
    } else {
      made = RandomMatrix(size, dtype, generator_);
    }
    if (!made.ok()) return made.status();
    weights_[key] = *made;
    return *made;
  }

  // Shared by every inverse placement: one copy per matrix, not per module
  // (an 8B model has 161 inverse R1 placements of a 128 MiB matrix).
  absl::StatusOr<torch::Tensor> Transposed(int64_t size, torch::ScalarType dtype) {
    const auto key = std::make_pair(size, dtype);
    auto it = transposes_.find(key);
    if (it != transposes_.end()) return it->second;
    WRING_ASSIGN_OR_RETURN(torch::Tensor weight, Weight(size, dtype));
    return transposes_[key] = weight.t().contiguous();
  }

  absl::StatusOr<torch::Tensor> Inverse(int64_t size, torch::ScalarType dtype) {
    const auto key = std::make_pair(size, dtype);
    auto it = inverses_.find(key);
    if (it != inverses_.end()) return it->second;
    WRING_ASSIGN_OR_RETURN(torch::Tensor weight, Weight(size, dtype));
    WRING_ASSIGN_OR_RETURN(torch::Tensor inverse,
                           CatchTorchErrors("inverting a random-matrix transform", [&]() -> absl::StatusOr<torch::Tensor> {
                             return torch::linalg_inv(weight.to(torch::kFloat64)).to(dtype).contiguous();
                           }));
    inverses_[key] = inverse;
    return inverse;
  }

 private:
  std::string type_;
  at::Generator generator_;
  std::map<std::pair<int64_t, torch::ScalarType>, torch::Tensor> weights_;
  std::map<std::pair<int64_t, torch::ScalarType>, torch::Tensor> inverses_;
  std::map<std::pair<int64_t, torch::ScalarType>, torch::Tensor> transposes_;
};

bool Has(const model::Weights& weights, const std::string& name) { return weights.count(name) > 0; }

}  // namespace

absl::StatusOr<std::unique_ptr<SpinQuant>> SpinQuant::Create(const mapping::ModelInput& model,
                                                             const recipe::SpinQuantModifier& modifier) {
  const mapping::ModuleTree& tree = model.tree;
  ms::SpinQuantOptions options = ms::SpinQuantOptionsFromRecipe(modifier);
  WRING_RETURN_IF_ERROR(ms::ValidateSpinQuantOptions(options));
  WRING_ASSIGN_OR_RETURN(auto precision, ParsePrecision(options.precision));
  options.precision = precision.second;  // serialized as str(torch.dtype)
  WRING_ASSIGN_OR_RETURN(ms::SpinQuantResolution resolution, ms::ResolveSpinQuant(tree));
  WRING_RETURN_IF_ERROR(ms::FuseNormsError(tree, resolution));
  WRING_ASSIGN_OR_RETURN(ms::TransformConfig config,
                         ms::BuildTransformConfig(resolution.mapping, options, model.config));
  WRING_ASSIGN_OR_RETURN(ms::TransformPlan plan, ms::PlanTransforms(tree, config));
  WRING_RETURN_IF_ERROR(plan.error);

  auto spin = std::unique_ptr<SpinQuant>(new SpinQuant());
  spin->transform_config_json_ = ms::TransformConfigToJson(config);
  for (const ms::FieldMatches& field : resolution.fields) {
    if (field.field == "embedding" && !field.modules.empty()) {
      spin->embedding_ = tree.module(field.modules.front()).name;
    }
  }
  std::set<std::string> norms;
  for (const ms::NormGroups& group : resolution.norms) {
    for (const mapping::ModuleSet& set : group.sets) {
      const std::string& norm = tree.module(set[0][0]).name;
      for (size_t i = 1; i < set.size(); ++i) {
        for (int linear : set[i]) spin->norm_fusions_.emplace_back(tree.module(linear).name, norm);
      }
      if (norms.insert(norm).second) spin->norms_.push_back(norm);
    }
  }

  std::map<std::string, Factory> factories;
  for (const ms::TransformPlacement& placement : plan.placements) {
    const ms::TransformScheme* scheme = nullptr;
    for (const auto& group : config.config_groups) {
      if (group.first == placement.scheme) scheme = &group.second;
    }
    const std::string& module = tree.module(placement.module).name;
    if (scheme == nullptr || !placement.size.has_value()) {
      return absl::InternalError(absl::StrCat("SpinQuant ", placement.scheme, " on ", module,
                                              ": the transform size is unknown"));
    }
    const bool online = IsOnline(placement.location);
    if (!online && placement.location != "weight_input" && placement.location != "weight_output") {
      return absl::UnimplementedError(absl::StrCat("SpinQuant ", placement.scheme, ": location '",
                                                   placement.location, "' is not run by wring"));
    }
    auto factory = factories.try_emplace(placement.scheme, scheme->type).first;
    const torch::ScalarType dtype = online ? precision.first : torch::kFloat64;
    auto op = std::make_shared<Operation>();
    op->scheme = placement.scheme;
    op->module = module;
    op->location = placement.location;
    op->embedding = tree.IsInstance(placement.module, "Embedding");
    absl::StatusOr<torch::Tensor> weight = factory->second.Weight(*placement.size, dtype);
    if (!weight.ok()) {
      return absl::Status(weight.status().code(),
                          absl::StrCat("SpinQuant ", placement.scheme, " on ", module, ": ",
                                       weight.status().message()));
    }
    op->stored = *weight;
    if (scheme->type == "random-matrix") {
      if (placement.inverse) {
        WRING_ASSIGN_OR_RETURN(op->matrix, factory->second.Inverse(*placement.size, dtype));
      } else {
        op->matrix = *weight;
      }
    } else {
      if (placement.inverse) {
        WRING_ASSIGN_OR_RETURN(op->matrix, factory->second.Transposed(*placement.size, dtype));
      } else {
        op->matrix = *weight;
      }
      op->scale = torch::tensor(static_cast<double>(*placement.size), torch::kFloat64).sqrt();
      op->sylvester = scheme->type == "hadamard";
    }
    if (online) {
      std::map<std::string, std::shared_ptr<const Operation>>& ops =
          placement.location == "input" ? spin->online_
                                        : (placement.location == "q_attn" ? spin->query_ : spin->key_);
      if (ops.count(module) > 0) {
        return absl::UnimplementedError(absl::StrCat("SpinQuant: two ", placement.location,
                                                     " transforms on ", module));
      }
      ops[module] = op;
      spin->online_order_.emplace_back(module, op);
    } else {
      spin->transforms_.push_back(op);
    }
  }
  return spin;
}

absl::Status SpinQuant::TransformWeights(model::Weights& weights) const {
  return CatchTorchErrors("applying SpinQuant", [&]() -> absl::Status {
    for (const auto& [linear, norm] : norm_fusions_) {
      const std::string w = linear + ".weight", n = norm + ".weight";
      if (!Has(weights, w) && !Has(weights, n)) continue;
      if (!Has(weights, w) || !Has(weights, n)) {
        return absl::UnimplementedError(absl::StrCat(
            "SpinQuant norm fusion of ", norm, " into ", linear,
            ": the two are loaded separately (different decoder layers), which wring does not support"));
      }
      torch::Tensor& weight = weights[w];
      weight = (weight.to(torch::kFloat64) * weights[n].to(weight.device(), torch::kFloat64)).to(weight.scalar_type());
    }
    for (const std::string& norm : norms_) {
      auto it = weights.find(norm + ".weight");
      if (it != weights.end()) it->second = torch::ones_like(it->second);
    }
    for (const auto& op : transforms_) {
      auto it = weights.find(op->module + ".weight");
      if (it == weights.end()) continue;
      const bool input_side = op->location == "weight_input";
      // Linear [out, in]; Embedding [num, dim] (its "input" is the vocabulary).
      const int64_t features = it->second.size(op->embedding == input_side ? 0 : 1);
      WRING_RETURN_IF_ERROR(CheckDivides(*op, features));
      it->second = ApplyTransform(*op, it->second);
      auto bias = weights.find(op->module + ".bias");
      if (op->location == "weight_output" && !op->embedding && bias != weights.end()) {
        bias->second = ApplyTransform(*op, bias->second.unsqueeze(-1)).squeeze(-1);
      }
    }
    return absl::OkStatus();
  });
}

absl::Status SpinQuant::Apply(model::CausalLm& model) const {
  const torch::ScalarType dtype = model.config().dtype;
  model::Weights outside;
  for (const std::string& name : model.NonLayerTensorNames()) {
    WRING_ASSIGN_OR_RETURN(torch::Tensor tensor, model.GetTensor(name));
    outside[name] = tensor;
  }
  WRING_RETURN_IF_ERROR(CatchTorchErrors("preparing SpinQuant", [&]() -> absl::Status {
    for (auto& [name, tensor] : outside) tensor = tensor.to(dtype);
    // untie_word_embeddings: lm_head becomes its own copy before centering.
    if (outside.count("lm_head.weight") == 0) {
      outside["lm_head.weight"] = outside.at("model.embed_tokens.weight").clone();
    }
    if (!embedding_.empty()) {
      auto it = outside.find(embedding_ + ".weight");
      if (it == outside.end()) {
        return absl::UnimplementedError(absl::StrCat("SpinQuant: embedding ", embedding_, " is not in the model"));
      }
      const torch::Tensor wide = it->second.to(torch::kFloat64);
      it->second = (wide - wide.mean(-1, /*keepdim=*/true)).to(dtype);
    }
    return absl::OkStatus();
  }));
  WRING_RETURN_IF_ERROR(TransformWeights(outside));
  for (auto& [name, tensor] : outside) model.OverrideTensor(name, tensor);
  model.SetLayerWeightsTransform([this](int, model::Weights& weights) { return TransformWeights(weights); });
  if (!online_.empty()) {
    model.SetLinearInputTransform(
        [this](const std::string& linear, const torch::Tensor& input) { return OnlineInput(linear, input); });
  }
  if (!query_.empty() || !key_.empty()) {
    model.SetAttentionStateTransform(
        [this](const std::string& attention, const torch::Tensor& query, const torch::Tensor& key) {
          return OnlineQueryKey(attention, query, key);
        });
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> SpinQuant::OnlineQueryKey(const std::string& attention,
                                                                                  const torch::Tensor& query,
                                                                                  const torch::Tensor& key) const {
  return CatchTorchErrors("SpinQuant online transform", [&]() -> absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> {
    std::pair<torch::Tensor, torch::Tensor> out(query, key);
    auto q = query_.find(attention);
    if (q != query_.end()) {
      WRING_RETURN_IF_ERROR(CheckDivides(*q->second, query.size(-1)));
      out.first = ApplyTransform(*q->second, query);
    }
    auto k = key_.find(attention);
    if (k != key_.end()) {
      WRING_RETURN_IF_ERROR(CheckDivides(*k->second, key.size(-1)));
      out.second = ApplyTransform(*k->second, key);
    }
    return out;
  });
}

absl::StatusOr<torch::Tensor> SpinQuant::OnlineInput(const std::string& linear, const torch::Tensor& input) const {
  auto it = online_.find(linear);
  if (it == online_.end()) return input;
  const Operation& op = *it->second;
  if (input.size(-1) % op.matrix.size(0) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("SpinQuant ", op.scheme, " on ", linear, ": block size ",
                                                   op.matrix.size(0), " does not divide the input's ",
                                                   input.size(-1), " features"));
  }
  return CatchTorchErrors("SpinQuant online transform", [&]() -> absl::StatusOr<torch::Tensor> {
    return ApplyTransform(op, input);
  });
}

std::vector<std::pair<std::string, torch::Tensor>> SpinQuant::OnlineTransformTensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  std::set<const void*> seen;
  for (const auto& [module, op] : online_order_) {
    if (!seen.insert(op->stored.unsafeGetTensorImpl()).second) continue;
    out.emplace_back(absl::StrCat(module, ".", op->scheme, "_", op->location, ".weight"), op->stored);
  }
  return out;
}

mapping::Json SpinQuant::QuantizationConfigWithoutQuantization() const {
  mapping::Json config = mapping::Json::object();
  config["quant_method"] = "compressed-tensors";
  config["sparsity_config"] = mapping::Json::object();
  config["transform_config"] = transform_config_json_;
  config["version"] = mapping::kCompressedTensorsVersion;
  return config;
}

}  // namespace spinquant
}  // namespace backend
}  // namespace wring
