#include "backend/model/causal_lm.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/base/torch_errors.h"
#include "backend/model/internal/blocks.h"
#include "backend/model/internal/checkpoint_layout.h"
#include "backend/model/internal/decoder_math.h"
#include "backend/model/internal/layer_runner.h"
#include "mapping/base/file.h"
#include "mapping/base/json.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace backend {
namespace model {
namespace {

constexpr char kLmHeadName[] = "lm_head.weight";

std::string ShapeString(c10::IntArrayRef shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }
std::string DtypeName(torch::Dtype dtype) { return std::string(c10::toString(dtype)); }


// Why `tensor` cannot serve as parameter `name` of shape `expected`, or "".
std::string TensorProblem(const std::string& name, const torch::Tensor& tensor, const std::vector<int64_t>& expected) {
  if (tensor.sizes() != c10::IntArrayRef(expected)) {
    return absl::StrCat(name, " has shape ", ShapeString(tensor.sizes()), ", config.json implies ",
                        ShapeString(expected));
  }
  if (!tensor.is_floating_point()) {
    return absl::StrCat(name, " has dtype ", DtypeName(tensor.scalar_type()),
                        ", expected a floating-point tensor (is the checkpoint already quantized?)");
  }
  return "";
}

// torch::Device("cuda") has no index while tensors on it report one.
bool SameDevice(const torch::Device& a, const torch::Device& b) {
  return a.type() == b.type() && (!a.has_index() || !b.has_index() || a.index() == b.index());
}

}  // namespace

CausalLm::CausalLm(std::string model_dir, torch::Device device, ModelConfig config,
                   std::unique_ptr<safetensors::SafetensorsCheckpoint> checkpoint)
    : model_dir_(std::move(model_dir)),
      device_(device),
      config_(std::move(config)),
      checkpoint_(std::move(checkpoint)) {}

bool LinearComputesInFloat32(const torch::Tensor& weight) { return internal::LinearConvertsToFloat32(weight); }

std::vector<std::pair<size_t, size_t>> StackableRuns(const std::vector<torch::Tensor>& samples, int64_t max_rows) {
  std::vector<std::pair<size_t, size_t>> runs;
  size_t next = 0;
  while (next < samples.size()) {
    const torch::Tensor& first = samples[next];
    size_t end = next + 1;
    if (first.dim() >= 1) {
      const int64_t width = std::max<int64_t>(first.size(-1), 1);
      int64_t rows = first.numel() / width;
      while (end < samples.size() && samples[end].dim() >= 1 && samples[end].size(-1) == first.size(-1)) {
        const int64_t more = samples[end].numel() / width;
        if (rows + more > max_rows) break;
        rows += more;
        ++end;
      }
    }
    runs.emplace_back(next, end);
    next = end;
  }
  return runs;
}

torch::Tensor StackRows(const std::vector<torch::Tensor>& samples) {
  std::vector<torch::Tensor> rows;
  rows.reserve(samples.size());
  for (const torch::Tensor& sample : samples) rows.push_back(sample.reshape({-1, sample.size(-1)}));
  return torch::cat(rows, 0);
}

std::vector<torch::Tensor> SplitRows(const torch::Tensor& stacked, const std::vector<torch::Tensor>& samples) {
  std::vector<torch::Tensor> pieces;
  pieces.reserve(samples.size());
  int64_t offset = 0;
  for (const torch::Tensor& sample : samples) {
    std::vector<int64_t> shape = sample.sizes().vec();
    shape.back() = stacked.size(-1);
    const int64_t rows = sample.numel() / std::max<int64_t>(sample.size(-1), 1);
    pieces.push_back(stacked.slice(0, offset, offset + rows).reshape(shape));
    offset += rows;
  }
  return pieces;
}

CausalLm::~CausalLm() = default;

absl::StatusOr<std::unique_ptr<CausalLm>> CausalLm::Open(const std::string& model_dir, torch::Device device) {
  const std::string config_path = model_dir + "/config.json";
  WRING_ASSIGN_OR_RETURN(const std::string text, mapping::ReadFile(config_path, "model config"));
  WRING_ASSIGN_OR_RETURN(ModelConfig config, ParseModelConfig(text, config_path));
  WRING_ASSIGN_OR_RETURN(const mapping::Json root, mapping::ParseJson(text, config_path));
  if (mapping::JsonMember(root, "quantization_config") != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        config_path, ": the model already has a quantization_config; compress the original (unquantized) model"));
  }
  WRING_ASSIGN_OR_RETURN(auto checkpoint, safetensors::SafetensorsCheckpoint::Open(model_dir));
  std::unique_ptr<CausalLm> model(new CausalLm(model_dir, device, std::move(config), std::move(checkpoint)));
  WRING_RETURN_IF_ERROR(model->CheckNonLayerTensors());
  safetensors::SafetensorsCheckpoint& stored = *model->checkpoint_;
  WRING_ASSIGN_OR_RETURN(internal::CheckpointLayout layout,
                         internal::CheckpointLayout::Build(
                             model->config_, stored.names(),
                             [&stored](const std::string& name) { return stored.Get(name); }, model_dir));
  model->layout_ = std::make_unique<internal::CheckpointLayout>(std::move(layout));
  return model;
}

absl::Status CausalLm::CheckNonLayerTensors() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {EmbedName(), {config_.vocab_size, config_.hidden_size}},
      {NormName(), {config_.hidden_size}},
  };
  if (!config_.tie_word_embeddings) expected.push_back({kLmHeadName, {config_.vocab_size, config_.hidden_size}});
  std::vector<std::string> problems;
  for (const auto& [name, shape] : expected) {
    absl::StatusOr<torch::Tensor> tensor = checkpoint_->Get(name);
    if (!tensor.ok()) {
      problems.push_back(absl::IsNotFound(tensor.status())
                             ? absl::StrCat("missing ", name,
                                            name == kLmHeadName ? " (tie_word_embeddings is false)" : "")
                             : std::string(tensor.status().message()));
      continue;
    }
    std::string problem = TensorProblem(name, *tensor, shape);
    if (!problem.empty()) problems.push_back(std::move(problem));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(model_dir_, ": checkpoint does not match config.json: ", absl::StrJoin(problems, "; ")));
}

absl::StatusOr<torch::Tensor> CausalLm::StoredTensor(const std::string& name) {
  auto it = overrides_.find(name);
  if (it != overrides_.end()) return it->second;
  return checkpoint_->Get(name);
}

void CausalLm::OverrideTensor(const std::string& name, torch::Tensor value) {
  overrides_[name] = std::move(value);
}

absl::StatusOr<torch::Tensor> CausalLm::LoadToDevice(const std::string& name, const std::vector<int64_t>& expected) {
  WRING_ASSIGN_OR_RETURN(torch::Tensor tensor, StoredTensor(name));
  const std::string problem = TensorProblem(name, tensor, expected);
  if (!problem.empty()) return absl::InvalidArgumentError(absl::StrCat(model_dir_, ": ", problem));
  return CatchTorchErrors(absl::StrCat("copying ", name, " to ", device_.str()),
                          [&]() -> absl::StatusOr<torch::Tensor> {
                            return tensor.to(device_, config_.dtype).contiguous();
                          });
}

absl::StatusOr<Weights> CausalLm::LoadLayerWeights(int layer) {
  if (layer < 0 || layer >= config_.num_hidden_layers) {
    return absl::OutOfRangeError(absl::StrCat("layer ", layer, " out of range: the model has ",
                                              config_.num_hidden_layers, " decoder layers"));
  }
  // The layout checked names, shapes and dtypes when the model was opened.
  Weights weights;
  for (const auto& entry : layout_->Layer(layer)) {
    // Named, not a structured binding: C++17 lambdas cannot capture those
    // (gcc allows it, clang -- the sanitizer builds -- does not).
    const std::string& name = entry.first;
    const auto& source = entry.second;
    WRING_ASSIGN_OR_RETURN(const torch::Tensor stored, checkpoint_->Get(source.stored_name));
    WRING_ASSIGN_OR_RETURN(weights[name],
                           CatchTorchErrors(absl::StrCat("copying ", name, " to ", device_.str()),
                                            [&]() -> absl::StatusOr<torch::Tensor> {
                                              return internal::CheckpointLayout::Extract(stored, source)
                                                  .to(device_, config_.dtype)
                                                  .contiguous();
                                            }));
  }
  if (calibration_norms_) {
    for (auto& [name, tensor] : weights) {
      if (IsZeroCenteredNormWeight(name)) tensor = (tensor.to(torch::kFloat) + 1.0).to(config_.dtype);
    }
  }
  if (layer_transform_) WRING_RETURN_IF_ERROR(layer_transform_(layer, weights));
  return weights;
}

void CausalLm::ReleaseLayerPages(int layer) {
  if (layer < 0 || layer >= config_.num_hidden_layers) return;
  for (const auto& entry : layout_->Layer(layer)) checkpoint_->ReleasePages(entry.second.stored_name);
}

bool CausalLm::IsZeroCenteredNormWeight(const std::string& name) const {
  if (config_.norm_style == NormStyle::kWeight) return false;
  if (name == NormName()) return true;
  const int layer = internal::LayerOfTensor(config_, name);
  if (layer < 0 || layer >= config_.num_hidden_layers) return false;
  for (const LayerModule& module : DecoderLayerModules(config_, layer)) {
    if (module.zero_centered && name == module.name + ".weight") return true;
  }
  return false;
}

void CausalLm::UseCalibrationNorms() {
  if (config_.norm_style != NormStyle::kOffsetWeight || calibration_norms_) return;
  calibration_norms_ = true;
  config_.norm_style = NormStyle::kFloat32Weight;
  absl::StatusOr<torch::Tensor> norm = StoredTensor(NormName());
  if (norm.ok()) OverrideTensor(NormName(), (norm->to(torch::kFloat) + 1.0).to(config_.dtype));
}

absl::StatusOr<torch::Tensor> CausalLm::StoredConvention(const std::string& name, const torch::Tensor& value) const {
  if (!calibration_norms_ || !IsZeroCenteredNormWeight(name)) return value;
  return CatchTorchErrors(absl::StrCat("restoring the zero-centred norm ", name),
                          [&]() -> absl::StatusOr<torch::Tensor> {
                            return (value.to(torch::kFloat) - 1.0).to(value.scalar_type());
                          });
}

absl::StatusOr<torch::Tensor> CausalLm::Embed(const torch::Tensor& input_ids) {
  if (!input_ids.defined() || input_ids.dim() != 2 || input_ids.size(1) == 0 ||
      !torch::isIntegralType(input_ids.scalar_type(), /*includeBool=*/false)) {
    return absl::InvalidArgumentError("Embed: input_ids must be a [batch, length] integer tensor with length > 0");
  }
  return CatchTorchErrors("Embed", [&]() -> absl::StatusOr<torch::Tensor> {
    const torch::Tensor ids = input_ids.to(torch::kCPU, torch::kLong);
    const int64_t low = ids.min().item<int64_t>(), high = ids.max().item<int64_t>();
    if (low < 0 || high >= config_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("Embed: token id ", low < 0 ? low : high,
                                                     " outside the vocabulary [0, ", config_.vocab_size, ")"));
    }
    // Rows are gathered from the (memory-mapped) table before the copy to
    // the device, so only the tokens used are read.
    WRING_ASSIGN_OR_RETURN(const torch::Tensor table, StoredTensor(EmbedName()));
    torch::Tensor embedded = table.index_select(0, ids.reshape({-1}))
                                 .reshape({ids.size(0), ids.size(1), config_.hidden_size})
                                 .to(device_, config_.dtype);
    if (config_.embedding_scale.has_value()) {
      // Gemma: embedding * embed_scale, a float32 scalar cast to the dtype.
      const torch::Tensor scale = torch::tensor(static_cast<float>(*config_.embedding_scale)).to(config_.dtype);
      embedded = (embedded.to(torch::kFloat) * scale.to(torch::kFloat)).to(config_.dtype);
    }
    return embedded;
  });
}

absl::Status CausalLm::CheckHidden(const torch::Tensor& hidden, absl::string_view operation) const {
  if (!hidden.defined() || hidden.dim() != 3 || hidden.size(1) == 0 || hidden.size(2) != config_.hidden_size ||
      hidden.scalar_type() != config_.dtype || !SameDevice(hidden.device(), device_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        operation, ": hidden states must be [batch, length > 0, ", config_.hidden_size, "] ", DtypeName(config_.dtype),
        " on ", device_.str(), hidden.defined() ? absl::StrCat("; got ", ShapeString(hidden.sizes()), " ",
                                                              DtypeName(hidden.scalar_type()), " on ",
                                                              hidden.device().str())
                                                : "; got an undefined tensor"));
  }
  return absl::OkStatus();
}

absl::Status CausalLm::CheckLayerWeights(int layer, const Weights& weights, const torch::Device& device,
                                         absl::string_view operation) const {
  std::vector<std::string> problems;
  for (const LayerModule& module : DecoderLayerModules(config_, layer)) {
    for (const auto& [name, shape] : ModuleParameters(module)) {
      auto it = weights.find(name);
      if (it == weights.end() || !it->second.defined()) {
        problems.push_back(absl::StrCat("missing ", name));
        continue;
      }
      const torch::Tensor& tensor = it->second;
      if (tensor.sizes() != c10::IntArrayRef(shape) || tensor.scalar_type() != config_.dtype ||
          !SameDevice(tensor.device(), device)) {
        problems.push_back(absl::StrCat(name, " is ", ShapeString(tensor.sizes()), " ",
                                        DtypeName(tensor.scalar_type()), " on ", tensor.device().str(),
                                        ", expected ", ShapeString(shape), " ", DtypeName(config_.dtype), " on ",
                                        device_.str()));
      }
    }
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(operation, ": layer ", layer, " weights: ", absl::StrJoin(problems, "; ")));
  }
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> CausalLm::SubmoduleForward(int layer, const Weights& weights, const std::string& module,
                                                         const torch::Tensor& input, const LayerHooks& hooks) {
  if (layer < 0 || layer >= config_.num_hidden_layers) {
    return absl::OutOfRangeError(absl::StrCat("SubmoduleForward: layer ", layer, " out of range"));
  }
  const std::string prefix = LayerPrefix(config_, layer);
  if (!absl::StartsWith(module, prefix)) {
    return absl::InvalidArgumentError(absl::StrCat("SubmoduleForward: ", module, " is not in decoder layer ", layer));
  }
  const std::string suffix = module.substr(prefix.size());
  const LayerBlocks& blocks = config_.layers[layer];
  enum class Part { kNone, kAttention, kLinearAttention, kFeedForward, kGatedMlp, kLinear } part = Part::kNone;
  if (suffix == "self_attn" && blocks.mixer == TokenMixer::kAttention) part = Part::kAttention;
  if (suffix == "linear_attn" && blocks.mixer == TokenMixer::kLinearAttention) part = Part::kLinearAttention;
  if (suffix == "mlp") part = Part::kFeedForward;
  for (const LayerModule& m : DecoderLayerModules(config_, layer)) {
    if (m.name == module && m.kind == LayerModule::kLinear) part = Part::kLinear;
    // A gated MLP inside the sparse block: shared_expert or experts.<e>.
    if (part == Part::kNone && blocks.feed_forward == FeedForward::kSparseMoe && m.kind == LayerModule::kLinear &&
        m.name == module + ".down_proj") {
      part = Part::kGatedMlp;
    }
  }
  if (part == Part::kNone) {
    return absl::UnimplementedError(absl::StrCat("SubmoduleForward: ", module,
                                                 " is not a submodule wring can run on its own (the layer's token "
                                                 "mixer, mlp, a gated MLP inside it, or a Linear)"));
  }
  // Token mixers need sequences; the rest works on tokens (a sparse block
  // and its experts see them flattened, [tokens, hidden]).
  const bool sequence = part == Part::kAttention || part == Part::kLinearAttention;
  if (!input.defined() || (sequence ? input.dim() != 3 : input.dim() < 2) || input.scalar_type() != config_.dtype ||
      !SameDevice(input.device(), device_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SubmoduleForward(", module, "): input must be a ", sequence ? "[batch, length, features]" : "[..., features]",
        " ", DtypeName(config_.dtype), " tensor on ", device_.str()));
  }
  WRING_RETURN_IF_ERROR(CheckLayerWeights(layer, weights, input.device(), "SubmoduleForward"));
  absl::Status transform_error;
  const LayerHooks used = WithModelTransforms(hooks, transform_error);
  absl::StatusOr<torch::Tensor> out =
      CatchTorchErrors(absl::StrCat("SubmoduleForward(", module, ")"), [&]() -> absl::StatusOr<torch::Tensor> {
        torch::NoGradGuard no_grad;
        const internal::LayerRunner run(config_, layer, weights, used);
        switch (part) {
          case Part::kAttention:
            return internal::RunAttention(run, input);
          case Part::kLinearAttention:
            return internal::RunLinearAttention(run, input);
          case Part::kFeedForward:
            return internal::RunFeedForward(run, input);
          case Part::kGatedMlp:
            return internal::RunGatedMlp(run, suffix, input);
          default:
            return run.Linear(suffix, input);
        }
      });
  WRING_RETURN_IF_ERROR(transform_error);
  return out;
}

absl::StatusOr<torch::Tensor> CausalLm::DecoderLayerForward(int layer, const Weights& weights,
                                                            const torch::Tensor& hidden, const LayerHooks& hooks) {
  if (layer < 0 || layer >= config_.num_hidden_layers) {
    return absl::OutOfRangeError(absl::StrCat("DecoderLayerForward: layer ", layer, " out of range: the model has ",
                                              config_.num_hidden_layers, " decoder layers"));
  }
  WRING_RETURN_IF_ERROR(CheckHidden(hidden, "DecoderLayerForward"));
  WRING_RETURN_IF_ERROR(CheckLayerWeights(layer, weights, hidden.device(), "DecoderLayerForward"));
  absl::Status transform_error;
  const LayerHooks used = WithModelTransforms(hooks, transform_error);
  absl::StatusOr<torch::Tensor> out = CatchTorchErrors(
      absl::StrCat("DecoderLayerForward(layer ", layer, ")"), [&]() -> absl::StatusOr<torch::Tensor> {
        torch::NoGradGuard no_grad;
        return internal::RunDecoderLayer(internal::LayerRunner(config_, layer, weights, used), hidden);
      });
  WRING_RETURN_IF_ERROR(transform_error);
  return out;
}

absl::StatusOr<std::vector<torch::Tensor>> CausalLm::DecoderLayerForwardSamples(
    int layer, const Weights& weights, const std::vector<torch::Tensor>& hidden) {
  if (hidden.size() == 1) {
    WRING_ASSIGN_OR_RETURN(torch::Tensor out, DecoderLayerForward(layer, weights, hidden.front()));
    return std::vector<torch::Tensor>{std::move(out)};
  }
  if (layer < 0 || layer >= config_.num_hidden_layers) {
    return absl::OutOfRangeError(absl::StrCat("DecoderLayerForwardSamples: layer ", layer,
                                              " out of range: the model has ", config_.num_hidden_layers,
                                              " decoder layers"));
  }
  for (const torch::Tensor& h : hidden) WRING_RETURN_IF_ERROR(CheckHidden(h, "DecoderLayerForwardSamples"));
  WRING_RETURN_IF_ERROR(CheckLayerWeights(layer, weights, device_, "DecoderLayerForwardSamples"));
  absl::Status transform_error;
  const LayerHooks used = WithModelTransforms({}, transform_error);
  absl::StatusOr<std::vector<torch::Tensor>> out =
      CatchTorchErrors(absl::StrCat("DecoderLayerForwardSamples(layer ", layer, ")"),
                       [&]() -> absl::StatusOr<std::vector<torch::Tensor>> {
                         torch::NoGradGuard no_grad;
                         return internal::RunDecoderLayerOnSamples(
                             internal::LayerRunner(config_, layer, weights, used), hidden);
                       });
  WRING_RETURN_IF_ERROR(transform_error);
  return out;
}

LayerHooks CausalLm::WithModelTransforms(const LayerHooks& hooks, absl::Status& error) const {
  LayerHooks combined = hooks;
  if (input_transform_) {
    // The caller's hooks are captured by value: the combined hooks must not
    // depend on how long the argument lives.
    combined.linear_input = [this, inner = hooks.linear_input, &error](const std::string& name,
                                                                       const torch::Tensor& input) {
      absl::StatusOr<torch::Tensor> transformed = input_transform_(name, input);
      if (!transformed.ok()) {
        if (error.ok()) error = transformed.status();
        return input;
      }
      return inner ? inner(name, *transformed) : *transformed;
    };
  }
  if (state_transform_) {
    combined.query_key = [this, inner = hooks.query_key, &error](const std::string& name, const torch::Tensor& query,
                                                                 const torch::Tensor& key) {
      absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> transformed = state_transform_(name, query, key);
      if (!transformed.ok()) {
        if (error.ok()) error = transformed.status();
        return std::make_pair(query, key);
      }
      return inner ? inner(name, transformed->first, transformed->second) : *transformed;
    };
  }
  return combined;
}

absl::StatusOr<torch::Tensor> CausalLm::Logits(const torch::Tensor& hidden) {
  WRING_RETURN_IF_ERROR(CheckHidden(hidden, "Logits"));
  WRING_ASSIGN_OR_RETURN(const torch::Tensor norm, LoadToDevice(NormName(), {config_.hidden_size}));
  WRING_ASSIGN_OR_RETURN(const torch::Tensor head,
                         LoadToDevice(config_.tie_word_embeddings && overrides_.count(kLmHeadName) == 0
                                          ? EmbedName()
                                          : kLmHeadName,
                                      {config_.vocab_size, config_.hidden_size}));
  return CatchTorchErrors("Logits", [&]() -> absl::StatusOr<torch::Tensor> {
    torch::NoGradGuard no_grad;
    torch::Tensor logits = internal::Linear(internal::Norm(config_.norm_style, hidden, norm, config_.rms_norm_eps),
                                            head, torch::Tensor());
    if (config_.final_logit_softcapping.has_value()) {
      // Three ops, each rounded to the dtype, as transformers writes them.
      const float cap = static_cast<float>(*config_.final_logit_softcapping);
      const torch::Dtype dtype = logits.scalar_type();
      logits = (logits.to(torch::kFloat) / cap).to(dtype);
      logits = torch::tanh(logits.to(torch::kFloat)).to(dtype);
      logits = (logits.to(torch::kFloat) * cap).to(dtype);
    }
    return logits;
  });
}

absl::StatusOr<torch::Tensor> CausalLm::Forward(const torch::Tensor& input_ids) {
  WRING_ASSIGN_OR_RETURN(torch::Tensor hidden, Embed(input_ids));
  for (int layer = 0; layer < config_.num_hidden_layers; ++layer) {
    WRING_ASSIGN_OR_RETURN(const Weights weights, LoadLayerWeights(layer));
    WRING_ASSIGN_OR_RETURN(hidden, DecoderLayerForward(layer, weights, hidden));
  }
  return Logits(hidden);
}

std::vector<std::string> CausalLm::NonLayerTensorNames() const {
  std::vector<std::string> names = {EmbedName(), NormName()};
  if (!config_.tie_word_embeddings || overrides_.count(kLmHeadName) > 0) names.push_back(kLmHeadName);
  return names;
}

const std::vector<std::string>& CausalLm::PassthroughTensorNames() const { return layout_->PassthroughNames(); }

absl::StatusOr<torch::Tensor> CausalLm::GetTensor(const std::string& name) { return StoredTensor(name); }

}  // namespace model
}  // namespace backend
}  // namespace wring
