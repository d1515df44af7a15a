// Checks every block kind against transformers 5.17 on tiny random-init
// models of the MoE, hybrid-attention, Gemma3 and Phi3 families
// (testdata/families/make_family_references.py: checkpoints as
// save_pretrained writes them and every block's output on fixed ids).
// Each block gets the reference input, so a mismatch points at its block.
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/model/causal_lm.h"
#include "backend/model/config.h"
#include "backend/model/internal/decoder_math.h"
#include "backend/safetensors/reader.h"
#include "gtest/gtest.h"
#include "mapping/testing/runfiles.h"

namespace wring {
namespace backend {
namespace model {
namespace {

std::string FamilyDir(const std::string& name) {
  return mapping::testing::RunfilePath("backend/model/testdata/families/" + name);
}

class Reference {
 public:
  explicit Reference(const std::string& dir) {
    auto file = safetensors::SafetensorsFile::Open(dir + "/reference.safetensors");
    EXPECT_TRUE(file.ok()) << file.status();
    if (file.ok()) file_ = std::move(*file);
  }
  bool Has(const std::string& name) const {
    for (const auto& entry : file_->header().tensors) {
      if (entry.name == name) return true;
    }
    return false;
  }
  torch::Tensor Get(const std::string& name) const {
    absl::StatusOr<torch::Tensor> tensor = file_->Get(name);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    return tensor.ok() ? *tensor : torch::Tensor();
  }

 private:
  std::unique_ptr<safetensors::SafetensorsFile> file_;
};

// max |actual - expected| / (atol + rtol * |expected|) <= 1, reported with
// the worst absolute difference.
void ExpectClose(const torch::Tensor& actual, const torch::Tensor& expected, double atol, double rtol,
                 const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what;
  const torch::Tensor a = actual.to(torch::kFloat).reshape(expected.sizes());
  const torch::Tensor e = expected.to(torch::kFloat);
  const torch::Tensor diff = (a - e).abs();
  const double ratio = (diff / (atol + rtol * e.abs())).max().item<double>();
  // The margin is part of the record (test.log), not only the verdict.
  std::cout << what << ": max |diff| " << diff.max().item<double>() << ", " << ratio << " of the tolerance\n";
  EXPECT_LE(ratio, 1.0) << what << ": max |diff| " << diff.max().item<double>() << " (atol " << atol << ", rtol "
                        << rtol << ")";
}

struct FamilyCase {
  const char* dir;
  const char* reference_dir;  // where reference.safetensors is (same weights)
  double atol, rtol;
};

// fp32: transformers' own kernels (eager vs sdpa, chunked vs recurrent delta
// rule) agree to < 1e-5 here (tolerances.json), so 1e-4 is rounding only.
// bf16: every op rounds to 8 mantissa bits and LibTorch 1.13 (float32 BLAS,
// rounded once) accumulates in another order than PyTorch 2.10, so a value
// can move by a bf16 step and carry on; transformers' eager and sdpa paths
// differ by up to 0.06 on these logits (|logits| <= 4.1): the bound is set at
// that level, as for the dense bf16 model.
const FamilyCase kFamilies[] = {
    {"qwen3_moe", "qwen3_moe", 1e-4, 1e-4},
    {"qwen3_moe_fused", "qwen3_moe", 1e-4, 1e-4},
    {"qwen2_moe", "qwen2_moe", 1e-4, 1e-4},
    {"mixtral", "mixtral", 1e-4, 1e-4},
    {"qwen3_next", "qwen3_next", 1e-4, 1e-4},
    {"qwen3_5_text", "qwen3_5_text", 1e-4, 1e-4},
    {"qwen3_5_moe_text", "qwen3_5_moe_text", 1e-4, 1e-4},
    {"qwen3_5_moe_text_bf16", "qwen3_5_moe_text_bf16", 0.1, 0.02},
    {"gemma3_text", "gemma3_text", 1e-4, 1e-4},
    {"phi3", "phi3", 1e-4, 1e-4},
};

class FamiliesMatchTransformers : public ::testing::TestWithParam<FamilyCase> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<CausalLm>> opened = CausalLm::Open(FamilyDir(GetParam().dir), torch::kCPU);
    ASSERT_TRUE(opened.ok()) << opened.status();
    model_ = std::move(*opened);
    reference_ = std::make_unique<Reference>(FamilyDir(GetParam().reference_dir));
  }
  const ModelConfig& config() const { return model_->config(); }
  torch::Tensor Ref(const std::string& name) const { return reference_->Get(name).to(config().dtype); }
  // The reference input of decoder layer `layer`.
  torch::Tensor LayerInput(int layer) const {
    return layer == 0 ? Ref("embeddings") : Ref(absl::StrCat("layer_", layer - 1, "_output"));
  }
  // The first sparse MoE layer, or -1.
  int FirstMoeLayer() const {
    for (int i = 0; i < config().num_hidden_layers; ++i) {
      if (config().layers[i].feed_forward == FeedForward::kSparseMoe) return i;
    }
    return -1;
  }
  torch::Tensor Norm(const Weights& w, int layer, const std::string& norm, const torch::Tensor& x) const {
    return internal::Norm(config().norm_style, x, w.at(LayerPrefix(config(), layer) + norm + ".weight"),
                          config().rms_norm_eps);
  }

  std::unique_ptr<CausalLm> model_;
  std::unique_ptr<Reference> reference_;
};

TEST_P(FamiliesMatchTransformers, EveryBlockAndTheLogits) {
  const FamilyCase& c = GetParam();
  const torch::Tensor ids = reference_->Get("input_ids");
  absl::StatusOr<torch::Tensor> embeddings = model_->Embed(ids);
  ASSERT_TRUE(embeddings.ok()) << embeddings.status();
  ExpectClose(*embeddings, Ref("embeddings"), c.atol, c.rtol, "embeddings");

  for (int layer = 0; layer < config().num_hidden_layers; ++layer) {
    SCOPED_TRACE(absl::StrCat("layer ", layer));
    absl::StatusOr<Weights> w = model_->LoadLayerWeights(layer);
    ASSERT_TRUE(w.ok()) << w.status();
    const std::string prefix = LayerPrefix(config(), layer);
    const torch::Tensor input = LayerInput(layer);

    const bool linear = config().layers[layer].mixer == TokenMixer::kLinearAttention;
    absl::StatusOr<torch::Tensor> mixer = model_->SubmoduleForward(
        layer, *w, prefix + (linear ? "linear_attn" : "self_attn"), Norm(*w, layer, "input_layernorm", input));
    ASSERT_TRUE(mixer.ok()) << mixer.status();
    const torch::Tensor ref_mixer = Ref(absl::StrCat("layer_", layer, "_mixer"));
    ExpectClose(*mixer, ref_mixer, c.atol, c.rtol, linear ? "linear_attn" : "self_attn");

    const bool sandwich = config().sandwich_norms;
    const torch::Tensor after_mixer =
        input + (sandwich ? Norm(*w, layer, "post_attention_layernorm", ref_mixer) : ref_mixer);
    const torch::Tensor ff_in =
        Norm(*w, layer, sandwich ? "pre_feedforward_layernorm" : "post_attention_layernorm", after_mixer);
    const std::string router_key = absl::StrCat("layer_", layer, "_router_logits");
    if (reference_->Has(router_key)) {
      const torch::Tensor logits = internal::Linear(ff_in.reshape({-1, config().hidden_size}),
                                                    w->at(prefix + "mlp.gate.weight"), torch::Tensor());
      ExpectClose(logits, Ref(router_key), c.atol, c.rtol, "router logits");
    }
    absl::StatusOr<torch::Tensor> mlp = model_->SubmoduleForward(layer, *w, prefix + "mlp", ff_in);
    ASSERT_TRUE(mlp.ok()) << mlp.status();
    ExpectClose(*mlp, Ref(absl::StrCat("layer_", layer, "_mlp")), c.atol, c.rtol, "mlp");

    absl::StatusOr<torch::Tensor> output = model_->DecoderLayerForward(layer, *w, input);
    ASSERT_TRUE(output.ok()) << output.status();
    ExpectClose(*output, Ref(absl::StrCat("layer_", layer, "_output")), c.atol, c.rtol, "decoder layer");
  }

  absl::StatusOr<torch::Tensor> logits = model_->Forward(ids);
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(logits->scalar_type(), config().dtype);
  ExpectClose(*logits, Ref("logits"), c.atol, c.rtol, "logits");
}

// llm-compressor's moe_calibrate_all_experts: each expert's Linears see every
// token, while the layer output is the routed one.
TEST_P(FamiliesMatchTransformers, CalibratingAllExpertsKeepsTheOutput) {
  const int moe_layer = FirstMoeLayer();
  if (moe_layer < 0) GTEST_SKIP() << "no sparse MoE layer";
  absl::StatusOr<Weights> w = model_->LoadLayerWeights(moe_layer);
  ASSERT_TRUE(w.ok()) << w.status();
  const torch::Tensor input = LayerInput(moe_layer);
  const int64_t tokens = input.size(0) * input.size(1);
  for (const bool all : {false, true}) {
    SCOPED_TRACE(all ? "all experts" : "routed experts");
    std::map<std::string, int64_t> rows;
    LayerHooks hooks;
    hooks.moe_calibrate_all_experts = all;
    hooks.linear_input = [&](const std::string& name, const torch::Tensor& x) {
      rows[name] += x.numel() / x.size(-1);
      return x;
    };
    absl::StatusOr<torch::Tensor> out = model_->DecoderLayerForward(moe_layer, *w, input, hooks);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, Ref(absl::StrCat("layer_", moe_layer, "_output")), GetParam().atol, GetParam().rtol,
                "decoder layer");
    int64_t routed = 0;
    for (int64_t e = 0; e < config().moe.num_experts; ++e) {
      const std::string expert = absl::StrCat(LayerPrefix(config(), moe_layer), "mlp.experts.", e);
      if (all) {
        EXPECT_EQ(rows[expert + ".gate_proj"], tokens) << expert;
      }
      EXPECT_EQ(rows[expert + ".gate_proj"], rows[expert + ".up_proj"]) << expert;
      EXPECT_EQ(rows[expert + ".gate_proj"], rows[expert + ".down_proj"]) << expert;
      routed += rows[expert + ".gate_proj"];
    }
    if (!all) {
      EXPECT_EQ(routed, tokens * config().moe.top_k);
    }
  }
}

// AWQ's grid search runs a sparse MoE parent once per candidate on the same
// tokens: LayerHooks.moe_routing keeps the routing of the first forward and
// serves equal tokens with the unchanged router from it, and nothing else.
TEST_P(FamiliesMatchTransformers, MoeRoutingCacheServesOnlyTheSameTokensAndRouter) {
  const int moe_layer = FirstMoeLayer();
  if (moe_layer < 0) GTEST_SKIP() << "no sparse MoE layer";
  absl::StatusOr<Weights> w = model_->LoadLayerWeights(moe_layer);
  ASSERT_TRUE(w.ok()) << w.status();
  const std::string mlp = LayerPrefix(config(), moe_layer) + "mlp";
  const torch::Tensor hidden = LayerInput(moe_layer);
  const torch::Tensor input = Norm(*w, moe_layer, "post_attention_layernorm", hidden);
  const torch::Tensor other = Norm(*w, moe_layer, "post_attention_layernorm", hidden.flip(1));
  const auto forward = [&](const torch::Tensor& x, const LayerHooks& hooks) {
    absl::StatusOr<torch::Tensor> out = model_->SubmoduleForward(moe_layer, *w, mlp, x, hooks);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : torch::Tensor();
  };
  const torch::Tensor plain = forward(input, LayerHooks());
  const torch::Tensor plain_other = forward(other, LayerHooks());

  LayerHooks cached;
  cached.moe_routing = std::make_shared<MoeRoutingCache>();
  EXPECT_TRUE(torch::equal(forward(input, cached), plain));  // computes and keeps the routing
  ASSERT_TRUE(cached.moe_routing->tokens.defined());
  EXPECT_TRUE(torch::equal(forward(input, cached), plain));  // from the cache
  // Served from the cache: a changed cached weight shows in the output...
  MoeRouting& routing = cached.moe_routing->routing;
  const torch::Tensor kept = routing.top_weights;
  routing.expert_weights.assign(routing.expert_weights.size(), torch::Tensor());
  routing.top_weights = kept * 2;
  EXPECT_FALSE(torch::equal(forward(input, cached), plain));
  // ...but other tokens are routed afresh (and do not replace the first).
  EXPECT_TRUE(torch::equal(forward(other, cached), plain_other));
  EXPECT_TRUE(torch::equal(routing.top_weights, kept * 2));

  // A router weight handed by linear_weight, or one changed in place, is
  // routed afresh.
  LayerHooks replaced = cached;
  replaced.linear_weight = [&](const std::string& linear) -> absl::StatusOr<torch::Tensor> {
    return absl::EndsWith(linear, "mlp.gate") ? w->at(linear + ".weight").clone() : torch::Tensor();
  };
  EXPECT_TRUE(torch::equal(forward(input, replaced), plain));
  torch::Tensor& router = w->at(mlp + ".gate.weight");
  router.mul_(1);  // same values, a new version
  EXPECT_TRUE(torch::equal(forward(input, cached), plain));
}

// AWQ's grid search hands candidate weights through LayerHooks.linear_weight:
// the stored weight's values handed as float32 (a bf16 model on the CPU)
// must give the very same layer output, another weight must be used, and a
// weight of the wrong shape is an error naming the Linear.
TEST_P(FamiliesMatchTransformers, LinearWeightHookReplacesTheStoredWeight) {
  const int layer = config().num_hidden_layers - 1;
  absl::StatusOr<Weights> w = model_->LoadLayerWeights(layer);
  ASSERT_TRUE(w.ok()) << w.status();
  const torch::Tensor input = LayerInput(layer);
  absl::StatusOr<torch::Tensor> stored = model_->DecoderLayerForward(layer, *w, input);
  ASSERT_TRUE(stored.ok()) << stored.status();

  int asked = 0;
  LayerHooks same;
  same.linear_weight = [&](const std::string& linear) -> absl::StatusOr<torch::Tensor> {
    ++asked;
    const torch::Tensor& weight = w->at(linear + ".weight");
    return LinearComputesInFloat32(weight) ? weight.to(torch::kFloat) : weight;
  };
  absl::StatusOr<torch::Tensor> handed = model_->DecoderLayerForward(layer, *w, input, same);
  ASSERT_TRUE(handed.ok()) << handed.status();
  EXPECT_GT(asked, 0);
  EXPECT_TRUE(torch::equal(*handed, *stored));

  LayerHooks doubled;
  doubled.linear_weight = [&](const std::string& linear) -> absl::StatusOr<torch::Tensor> {
    return absl::EndsWith(linear, "o_proj") || absl::EndsWith(linear, "out_proj") ? w->at(linear + ".weight") * 2
                                                                                    : torch::Tensor();
  };
  absl::StatusOr<torch::Tensor> changed = model_->DecoderLayerForward(layer, *w, input, doubled);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_FALSE(torch::equal(*changed, *stored));

  LayerHooks misshapen;
  misshapen.linear_weight = [&](const std::string& linear) -> absl::StatusOr<torch::Tensor> {
    return w->at(linear + ".weight").slice(0, 0, 1);
  };
  absl::StatusOr<torch::Tensor> refused = model_->DecoderLayerForward(layer, *w, input, misshapen);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("LayerHooks.linear_weight for " + LayerPrefix(config(), layer)),
            std::string::npos)
      << refused.status();
}

// The propagation pass runs several samples through a layer at once, the
// feed-forward block on their tokens stacked: every sample's output must be
// what a DecoderLayerForward of it alone gives (to the BLAS's accumulation
// order), for samples of different lengths.
TEST_P(FamiliesMatchTransformers, SamplesStackedThroughTheFeedForwardBlock) {
  for (int layer = 0; layer < config().num_hidden_layers; ++layer) {
    SCOPED_TRACE(layer);
    absl::StatusOr<Weights> w = model_->LoadLayerWeights(layer);
    ASSERT_TRUE(w.ok()) << w.status();
    const torch::Tensor input = LayerInput(layer);
    const int64_t length = input.size(1);
    const std::vector<torch::Tensor> samples = {input.slice(1, 0, length / 3 + 1), input.slice(1, 0, length),
                                                input.slice(1, length / 2, length)};
    absl::StatusOr<std::vector<torch::Tensor>> stacked = model_->DecoderLayerForwardSamples(layer, *w, samples);
    ASSERT_TRUE(stacked.ok()) << stacked.status();
    ASSERT_EQ(stacked->size(), samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      absl::StatusOr<torch::Tensor> alone = model_->DecoderLayerForward(layer, *w, samples[i]);
      ASSERT_TRUE(alone.ok()) << alone.status();
      ASSERT_EQ((*stacked)[i].sizes(), alone->sizes());
      ExpectClose((*stacked)[i], *alone, GetParam().atol / 10, GetParam().rtol / 10, "stacked sample");
    }
  }
  EXPECT_EQ(StackableRuns({torch::zeros({1, 3000, 8}), torch::zeros({1096, 8}), torch::zeros({1, 1, 8}),
                           torch::zeros({5000, 8}), torch::zeros({2, 4}), torch::zeros({3, 4})}),
            (std::vector<std::pair<size_t, size_t>>{{0, 2}, {2, 3}, {3, 4}, {4, 6}}));
}

INSTANTIATE_TEST_SUITE_P(Tiny, FamiliesMatchTransformers, ::testing::ValuesIn(kFamilies),
                         [](const ::testing::TestParamInfo<FamilyCase>& info) { return std::string(info.param.dir); });

TEST(Families, FusedAndPerExpertCheckpointsLoadTheSameWeights) {
  auto fused = CausalLm::Open(FamilyDir("qwen3_moe_fused"), torch::kCPU);
  auto per_expert = CausalLm::Open(FamilyDir("qwen3_moe"), torch::kCPU);
  ASSERT_TRUE(fused.ok()) << fused.status();
  ASSERT_TRUE(per_expert.ok()) << per_expert.status();
  for (int layer = 0; layer < 2; ++layer) {
    absl::StatusOr<Weights> a = (*fused)->LoadLayerWeights(layer);
    absl::StatusOr<Weights> b = (*per_expert)->LoadLayerWeights(layer);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_EQ(a->size(), b->size());
    for (const auto& [name, tensor] : *b) {
      ASSERT_EQ(a->count(name), 1u) << name;
      EXPECT_TRUE(torch::equal(a->at(name), tensor)) << name;
    }
    EXPECT_EQ(b->count(absl::StrCat("model.layers.", layer, ".mlp.experts.7.gate_proj.weight")), 1u);
  }
}

TEST(Families, VisionLanguageCheckpointKeepsTheVisionTowerAside) {
  auto model = CausalLm::Open(FamilyDir("qwen3_5_moe_text"), torch::kCPU);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->config().module_prefix, "model.language_model.");
  EXPECT_EQ((*model)->config().model_type, "qwen3_5_moe_text");
  EXPECT_EQ((*model)->NonLayerTensorNames(),
            std::vector<std::string>({"model.language_model.embed_tokens.weight", "model.language_model.norm.weight",
                                      "lm_head.weight"}));
  const std::vector<std::string>& passthrough = (*model)->PassthroughTensorNames();
  ASSERT_FALSE(passthrough.empty());
  for (const std::string& name : passthrough) EXPECT_TRUE(absl::StartsWith(name, "model.visual.")) << name;
}

}  // namespace
}  // namespace model
}  // namespace backend
}  // namespace wring

namespace wring {
namespace backend {
namespace model {
namespace {

// llm-compressor's norm_calibration_context: zero-centred norms run as
// standard ones with weight bf16(1 + w) and are written back as
// bf16(weight - 1), so even an untouched norm goes through that round trip.
TEST(Families, CalibrationNormsRoundTripAsLlmCompressorDoes) {
  for (const char* dir : {"qwen3_next", "qwen3_5_moe_text_bf16", "gemma3_text"}) {
    SCOPED_TRACE(dir);
    auto model = CausalLm::Open(FamilyDir(dir), torch::kCPU);
    ASSERT_TRUE(model.ok()) << model.status();
    const Reference reference(FamilyDir(dir));
    const ModelConfig original = (*model)->config();
    absl::StatusOr<Weights> before = (*model)->LoadLayerWeights(1);
    ASSERT_TRUE(before.ok()) << before.status();
    (*model)->UseCalibrationNorms();
    EXPECT_EQ((*model)->config().norm_style, NormStyle::kFloat32Weight);
    absl::StatusOr<Weights> after = (*model)->LoadLayerWeights(1);
    ASSERT_TRUE(after.ok()) << after.status();
    const std::string norm = LayerPrefix(original, 1) + "input_layernorm.weight";
    const torch::Tensor w = before->at(norm);
    EXPECT_TRUE(torch::equal(after->at(norm), (w.to(torch::kFloat) + 1).to(w.scalar_type())));
    absl::StatusOr<torch::Tensor> stored = (*model)->StoredConvention(norm, after->at(norm));
    ASSERT_TRUE(stored.ok()) << stored.status();
    const torch::Tensor round_trip = ((w.to(torch::kFloat) + 1).to(w.scalar_type()).to(torch::kFloat) - 1).to(w.scalar_type());
    EXPECT_TRUE(torch::equal(*stored, round_trip));
    if (original.dtype == torch::kBFloat16) {
      EXPECT_FALSE(torch::equal(*stored, w)) << "bf16 rounds in the round trip";
    }
    // Neither Gated DeltaNet's norm nor a Linear is touched.
    const std::string linear = LayerPrefix(original, 1) + "self_attn.o_proj.weight";
    absl::StatusOr<torch::Tensor> same = (*model)->StoredConvention(linear, after->at(linear));
    ASSERT_TRUE(same.ok());
    EXPECT_TRUE(torch::equal(*same, after->at(linear)));
    // The final norm too: GetTensor gives the calibration weight.
    const std::string final_name = original.module_prefix + "norm.weight";
    absl::StatusOr<torch::Tensor> final_norm = (*model)->GetTensor(final_name);
    ASSERT_TRUE(final_norm.ok());
    absl::StatusOr<torch::Tensor> final_stored = (*model)->StoredConvention(final_name, *final_norm);
    ASSERT_TRUE(final_stored.ok());
    EXPECT_TRUE(torch::allclose(final_stored->to(torch::kFloat), final_norm->to(torch::kFloat) - 1, 0, 1e-2));

    // The forward stays transformers' up to rounding of (1 + w).
    absl::StatusOr<torch::Tensor> logits = (*model)->Forward(reference.Get("input_ids"));
    ASSERT_TRUE(logits.ok()) << logits.status();
    const double tolerance = original.dtype == torch::kBFloat16 ? 0.1 : 1e-4;
    ExpectClose(*logits, reference.Get("logits"), tolerance, original.dtype == torch::kBFloat16 ? 0.02 : 1e-4,
                "logits with calibration norms");
  }
}

TEST(Families, MixtralIsSavedUnderItsLegacyBlockName) {
  auto model = CausalLm::Open(FamilyDir("mixtral"), torch::kCPU);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(SavedName((*model)->config(), "model.layers.0.mlp.experts.3.gate_proj"),
            "model.layers.0.block_sparse_moe.experts.3.gate_proj");
  EXPECT_EQ(SavedName((*model)->config(), "model.layers.0.self_attn.q_proj"), "model.layers.0.self_attn.q_proj");
  auto qwen = CausalLm::Open(FamilyDir("qwen3_moe"), torch::kCPU);
  ASSERT_TRUE(qwen.ok()) << qwen.status();
  EXPECT_EQ(SavedName((*qwen)->config(), "model.layers.0.mlp.experts.3.gate_proj"),
            "model.layers.0.mlp.experts.3.gate_proj");
}

}  // namespace
}  // namespace model
}  // namespace backend
}  // namespace wring
