#include "mapping/archs/architectures.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/base/json.h"
#include "mapping/model/fixture_format.h"
#include "mapping/testing/fixture_path.h"
#include "mapping/testing/runfiles.h"
#include "mapping/tree/module_tree.h"

namespace wring {
namespace mapping {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Describe(const Module& m) {
  return absl::StrCat(m.name, " class=", m.class_name, " mro=[", absl::StrJoin(m.mro, ","),
                      "] in=", m.in_features, " out=", m.out_features);
}

std::string Describe(const Parameter& p) {
  return absl::StrCat(p.name, " [", absl::StrJoin(p.shape, ","), "]");
}

// --- Acceptance: every fixture's modules and params, from its config alone ---

class FixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTest, ConfigReproducesNamedModulesAndParameters) {
  absl::StatusOr<Json> fixture = testing::LoadFixtureJson(GetParam());
  ASSERT_TRUE(fixture.ok()) << fixture.status();
  absl::StatusOr<ModelInput> expected = ModelFromModuleDump(*fixture, GetParam());
  ASSERT_TRUE(expected.ok()) << expected.status();

  const Json& config = (*fixture)["config"];
  std::string architecture = JsonString(*fixture, "architecture").value_or("");
  ASSERT_FALSE(architecture.empty());
  absl::StatusOr<ModelInput> built = ModelFromConfig(config, "config.json", architecture);
  ASSERT_TRUE(built.ok()) << built.status();

  const ModuleTree& want = expected->tree;
  const ModuleTree& got = built->tree;
  for (int i = 0; i < std::min(want.size(), got.size()); ++i) {
    ASSERT_EQ(Describe(got.module(i)), Describe(want.module(i))) << "module #" << i;
  }
  ASSERT_EQ(got.size(), want.size());
  const std::vector<Parameter>& want_params = want.parameters();
  const std::vector<Parameter>& got_params = got.parameters();
  ASSERT_FALSE(want_params.empty());
  for (size_t i = 0; i < std::min(want_params.size(), got_params.size()); ++i) {
    ASSERT_EQ(Describe(got_params[i]), Describe(want_params[i])) << "param #" << i;
  }
  ASSERT_EQ(got_params.size(), want_params.size());

  EXPECT_EQ(built->source_kind, "config");
  EXPECT_EQ(built->architecture, architecture);
  ASSERT_FALSE(built->notes.empty());
  EXPECT_THAT(built->notes[0], HasSubstr("generated from config.json for architecture " +
                                         architecture));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest,
                         ::testing::Values("LlamaForCausalLM", "MistralForCausalLM",
                                           "Phi3ForCausalLM", "Qwen3ForCausalLM",
                                           "Gemma3ForCausalLM", "Qwen3MoeForCausalLM.fused",
                                           "Qwen3NextForCausalLM.fused"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '.') c = '_';
                           }
                           return name;
                         });

// --- Helpers for hand-made configs ---

Json FixtureConfig(const std::string& name) {
  absl::StatusOr<Json> fixture = testing::LoadFixtureJson(name);
  EXPECT_TRUE(fixture.ok()) << fixture.status();
  return fixture.ok() ? (*fixture)["config"] : Json::object();
}

ModelInput BuildOrDie(const Json& config, absl::string_view architecture = {}) {
  absl::StatusOr<ModelInput> model = ModelFromConfig(config, "config.json", architecture);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : ModelInput();
}

const Module* FindModule(const ModelInput& model, absl::string_view name) {
  absl::optional<int> index = model.tree.Find(name);
  return index.has_value() ? &model.tree.module(*index) : nullptr;
}

std::vector<std::string> ParamNames(const ModelInput& model) {
  std::vector<std::string> names;
  for (const Parameter& p : model.tree.parameters()) names.push_back(p.name);
  return names;
}

const Parameter* FindParam(const ModelInput& model, absl::string_view name) {
  for (const Parameter& p : model.tree.parameters()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::vector<std::string> ChildNames(const ModelInput& model, absl::string_view name) {
  std::vector<std::string> names;
  absl::optional<int> index = model.tree.Find(name);
  if (!index.has_value()) return names;
  for (int child : model.tree.children(*index)) names.push_back(model.tree.module(child).name);
  return names;
}

Json SmallLlama() {
  absl::StatusOr<Json> config = ParseJson(R"({
    "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100})",
                                          "small_llama");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : Json::object();
}

// --- Architecture selection and unknown architectures ---

TEST(ModelFromConfigTest, ArchitectureComesFromConfigArchitectures) {
  ModelInput model = BuildOrDie(SmallLlama());
  EXPECT_EQ(model.architecture, "LlamaForCausalLM");
  EXPECT_EQ(model.tree.root_class(), "LlamaForCausalLM");
  EXPECT_EQ(model.config, SmallLlama());
}

TEST(ModelFromConfigTest, ExplicitArchitectureOverridesConfig) {
  ModelInput model = BuildOrDie(SmallLlama(), "MistralForCausalLM");
  EXPECT_EQ(model.tree.root_class(), "MistralForCausalLM");
  EXPECT_EQ(FindModule(model, "model.layers.0.mlp")->class_name, "MistralMLP");
}

TEST(ModelFromConfigTest, UnknownArchitectureListsKnownOnesAndAlternatives) {
  Json config = SmallLlama();
  config["architectures"] = {"BertForMaskedLM"};
  absl::StatusOr<ModelInput> model = ModelFromConfig(config, "my/config.json");
  ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), HasSubstr("my/config.json"));
  EXPECT_THAT(model.status().message(), HasSubstr("\"BertForMaskedLM\""));
  for (const std::string& known : KnownArchitectures()) {
    EXPECT_THAT(model.status().message(), HasSubstr(known));
  }
  EXPECT_THAT(model.status().message(), HasSubstr("module list"));
  EXPECT_THAT(model.status().message(), HasSubstr("safetensors headers"));
}

TEST(ModelFromConfigTest, NullArchitecturesWithoutOverrideIsAnError) {
  Json config = SmallLlama();
  config["architectures"] = nullptr;
  absl::StatusOr<ModelInput> model = ModelFromConfig(config, "config.json");
  ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), HasSubstr("\"architectures\""));
  EXPECT_THAT(model.status().message(), HasSubstr("pass the architecture explicitly"));
}

TEST(ModelFromConfigTest, NonObjectConfigIsAnError) {
  absl::StatusOr<ModelInput> model = ModelFromConfig(Json::array(), "config.json");
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
}

// Qwen3.5 (text model alone, and inside the vision-language wrappers with
// their vision towers) against transformers' own trees
// (testdata/make_qwen3_5_dumps.py).
class Qwen3_5Test : public ::testing::TestWithParam<std::string> {};

TEST_P(Qwen3_5Test, ConfigReproducesNamedModulesAndParameters) {
  absl::StatusOr<Json> dumps =
      ParseJson(testing::ReadFileOrFail(testing::RunfilePath("mapping/archs/testdata/qwen3_5_dumps.json")),
                "qwen3_5_dumps.json");
  ASSERT_TRUE(dumps.ok()) << dumps.status();
  const Json& dump = (*dumps)[GetParam()];
  absl::StatusOr<ModelInput> expected = ModelFromModuleDump(dump, GetParam());
  ASSERT_TRUE(expected.ok()) << expected.status();
  absl::StatusOr<ModelInput> built = ModelFromConfig(dump["config"], "config.json", GetParam());
  ASSERT_TRUE(built.ok()) << built.status();
  const ModuleTree& want = expected->tree;
  const ModuleTree& got = built->tree;
  for (int i = 0; i < std::min(want.size(), got.size()); ++i) {
    ASSERT_EQ(Describe(got.module(i)), Describe(want.module(i))) << "module #" << i;
  }
  ASSERT_EQ(got.size(), want.size());
  const std::vector<Parameter>& want_params = want.parameters();
  const std::vector<Parameter>& got_params = got.parameters();
  for (size_t i = 0; i < std::min(want_params.size(), got_params.size()); ++i) {
    ASSERT_EQ(Describe(got_params[i]), Describe(want_params[i])) << "param #" << i;
  }
  ASSERT_EQ(got_params.size(), want_params.size());
}

INSTANTIATE_TEST_SUITE_P(Dumps, Qwen3_5Test,
                         ::testing::Values("Qwen3_5ForCausalLM", "Qwen3_5ForConditionalGeneration",
                                           "Qwen3_5MoeForConditionalGeneration"));

TEST(ModelFromConfigTest, VisionLanguageWrapperNeedsTextConfig) {
  Json config = {{"architectures", {"Qwen3_5ForConditionalGeneration"}}, {"model_type", "qwen3_5"}};
  absl::StatusOr<ModelInput> built = ModelFromConfig(config, "config.json");
  ASSERT_FALSE(built.ok());
  EXPECT_THAT(built.status().message(), HasSubstr("\"text_config\" must be an object"));
}

TEST(KnownArchitecturesTest, ListsEveryFamily) {
  std::vector<std::string> known = KnownArchitectures();
  for (const char* name :
       {"LlamaForCausalLM", "MistralForCausalLM", "MixtralForCausalLM", "Qwen2ForCausalLM",
        "Qwen2MoeForCausalLM", "Qwen3ForCausalLM", "Qwen3MoeForCausalLM",
        "Qwen3NextForCausalLM", "Phi3ForCausalLM", "Gemma3ForCausalLM", "Qwen3_5ForCausalLM",
        "Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForCausalLM",
        "Qwen3_5MoeForConditionalGeneration"}) {
    EXPECT_TRUE(IsKnownArchitecture(name)) << name;
    EXPECT_THAT(known, ::testing::Contains(name));
  }
  EXPECT_FALSE(IsKnownArchitecture("Gemma3ForConditionalGeneration"));
  EXPECT_FALSE(IsKnownArchitecture("llamaforcausallm"));
}

// --- Missing and malformed fields ---

TEST(ModelFromConfigTest, MissingRequiredFieldIsNamed) {
  for (const char* field : {"num_hidden_layers", "hidden_size", "num_attention_heads",
                            "intermediate_size", "vocab_size"}) {
    Json config = SmallLlama();
    config.erase(field);
    absl::StatusOr<ModelInput> model = ModelFromConfig(config, "config.json");
    ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(model.status().message(), HasSubstr(absl::StrCat("\"", field, "\"")));
    EXPECT_THAT(model.status().message(), HasSubstr("missing"));
  }
}

TEST(ModelFromConfigTest, WronglyTypedFieldsAreNamed) {
  struct Case {
    const char* field;
    Json value;
  };
  const Case cases[] = {
      {"hidden_size", "64"},          {"num_hidden_layers", 2.5},
      {"num_attention_heads", -4},    {"num_hidden_layers", 1000000},
      {"attention_bias", "yes"},      {"tie_word_embeddings", 1},
      {"hidden_act", 3},              {"hidden_act", "swiglu-9000"},
      {"num_key_value_heads", true},  {"head_dim", 0},
  };
  for (const Case& c : cases) {
    Json config = SmallLlama();
    config[c.field] = c.value;
    absl::StatusOr<ModelInput> model = ModelFromConfig(config, "config.json");
    ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
        << c.field << "=" << c.value.dump();
    EXPECT_THAT(model.status().message(), HasSubstr(absl::StrCat("\"", c.field, "\"")));
  }
}

TEST(ModelFromConfigTest, MoeFieldsAreRequiredOnlyByMoeFamilies) {
  Json config = FixtureConfig("Qwen3MoeForCausalLM.fused");
  config.erase("moe_intermediate_size");
  absl::StatusOr<ModelInput> model = ModelFromConfig(config, "config.json", "Qwen3MoeForCausalLM");
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("\"moe_intermediate_size\""));
  // A dense family never reads it.
  EXPECT_TRUE(ModelFromConfig(config, "config.json", "Qwen3ForCausalLM").ok());
}

TEST(ModelFromConfigTest, MalformedLayerControlsAreNamed) {
  Json next = FixtureConfig("Qwen3NextForCausalLM.fused");
  next["layer_types"] = {"full_attention"};
  absl::StatusOr<ModelInput> model = ModelFromConfig(next, "config.json", "Qwen3NextForCausalLM");
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("\"layer_types\""));

  Json moe = FixtureConfig("Qwen3MoeForCausalLM.fused");
  moe["mlp_only_layers"] = "0";
  model = ModelFromConfig(moe, "config.json", "Qwen3MoeForCausalLM");
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("\"mlp_only_layers\""));

  moe["mlp_only_layers"] = Json::array();
  moe["decoder_sparse_step"] = 0;
  model = ModelFromConfig(moe, "config.json", "Qwen3MoeForCausalLM");
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("\"decoder_sparse_step\""));
}

// --- transformers defaults ---

TEST(ModelFromConfigTest, LlamaDefaultsHeadDimAndKeyValueHeadsFromHeads) {
  ModelInput model = BuildOrDie(SmallLlama());
  const Module* k_proj = FindModule(model, "model.layers.1.self_attn.k_proj");
  ASSERT_NE(k_proj, nullptr);
  EXPECT_EQ(k_proj->in_features, 64);
  EXPECT_EQ(k_proj->out_features, 64);  // 4 kv heads x (64 / 4)
  EXPECT_THAT(absl::StrJoin(model.notes, "\n"), HasSubstr("head_dim not set: used 16"));
  EXPECT_THAT(absl::StrJoin(model.notes, "\n"), HasSubstr("num_key_value_heads not set"));
}

TEST(ModelFromConfigTest, ExplicitHeadDimAndKeyValueHeadsWin) {
  Json config = SmallLlama();
  config["head_dim"] = 32;
  config["num_key_value_heads"] = 1;
  ModelInput model = BuildOrDie(config);
  EXPECT_EQ(FindModule(model, "model.layers.0.self_attn.q_proj")->out_features, 128);
  EXPECT_EQ(FindModule(model, "model.layers.0.self_attn.v_proj")->out_features, 32);
  EXPECT_EQ(FindModule(model, "model.layers.0.self_attn.o_proj")->in_features, 128);
}

TEST(ModelFromConfigTest, Qwen3HeadDimDefaultsToConfigClassDefault) {
  Json config = SmallLlama();
  ModelInput model = BuildOrDie(config, "Qwen3ForCausalLM");
  // Qwen3Config.head_dim defaults to 128 and num_key_value_heads to 32.
  EXPECT_EQ(FindModule(model, "model.layers.0.self_attn.q_proj")->out_features, 4 * 128);
  EXPECT_EQ(FindModule(model, "model.layers.0.self_attn.k_proj")->out_features, 32 * 128);
  EXPECT_EQ(FindParam(model, "model.layers.0.self_attn.q_norm.weight")->shape,
            std::vector<int64_t>{128});
}

TEST(ModelFromConfigTest, TiedEmbeddingsKeepLmHeadModuleButNotItsWeight) {
  Json config = SmallLlama();
  config["tie_word_embeddings"] = true;
  ModelInput model = BuildOrDie(config);
  const Module* lm_head = FindModule(model, "lm_head");
  ASSERT_NE(lm_head, nullptr);
  EXPECT_EQ(lm_head->out_features, 100);
  EXPECT_THAT(ParamNames(model), Not(::testing::Contains("lm_head.weight")));
  EXPECT_EQ(ParamNames(model).back(), "model.norm.weight");

  config["tie_word_embeddings"] = false;
  EXPECT_EQ(ParamNames(BuildOrDie(config)).back(), "lm_head.weight");
}

TEST(ModelFromConfigTest, GemmaTiesByDefault) {
  Json config = FixtureConfig("Gemma3ForCausalLM");
  config.erase("tie_word_embeddings");
  ModelInput model = BuildOrDie(config, "Gemma3ForCausalLM");
  EXPECT_THAT(ParamNames(model), Not(::testing::Contains("lm_head.weight")));
  EXPECT_THAT(absl::StrJoin(model.notes, "\n"), HasSubstr("tie_word_embeddings not set"));
}

TEST(ModelFromConfigTest, LlamaBiasFlags) {
  Json config = SmallLlama();
  config["attention_bias"] = true;
  config["mlp_bias"] = true;
  ModelInput model = BuildOrDie(config);
  for (const char* name : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                           "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                           "mlp.down_proj"}) {
    EXPECT_NE(FindParam(model, absl::StrCat("model.layers.0.", name, ".bias")), nullptr) << name;
  }
  // Registration order: weight then bias.
  std::vector<std::string> names = ParamNames(model);
  EXPECT_EQ(names[1], "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(names[2], "model.layers.0.self_attn.q_proj.bias");
  EXPECT_EQ(FindParam(model, "model.layers.0.mlp.down_proj.bias")->shape,
            std::vector<int64_t>{64});
  // Mistral's attention has no bias whatever the config says.
  ModelInput mistral = BuildOrDie(config, "MistralForCausalLM");
  EXPECT_EQ(FindParam(mistral, "model.layers.0.self_attn.q_proj.bias"), nullptr);
}

TEST(ModelFromConfigTest, Qwen2HasQkvBiasButNoOutputBias) {
  ModelInput model = BuildOrDie(SmallLlama(), "Qwen2ForCausalLM");
  EXPECT_NE(FindParam(model, "model.layers.0.self_attn.q_proj.bias"), nullptr);
  EXPECT_NE(FindParam(model, "model.layers.0.self_attn.k_proj.bias"), nullptr);
  EXPECT_NE(FindParam(model, "model.layers.0.self_attn.v_proj.bias"), nullptr);
  EXPECT_EQ(FindParam(model, "model.layers.0.self_attn.o_proj.bias"), nullptr);
  EXPECT_EQ(FindModule(model, "model.layers.0.input_layernorm")->class_name, "Qwen2RMSNorm");
}

// --- MoE and hybrid layouts ---

TEST(ModelFromConfigTest, Qwen3MoeDenseLayersFromMlpOnlyLayersAndSparseStep) {
  Json config = FixtureConfig("Qwen3MoeForCausalLM.fused");
  config["num_hidden_layers"] = 4;
  config["mlp_only_layers"] = {3};
  config["decoder_sparse_step"] = 2;
  ModelInput model = BuildOrDie(config, "Qwen3MoeForCausalLM");
  // Layer 1: (1 + 1) % 2 == 0 -> sparse. Layers 0, 2: step. Layer 3: listed.
  EXPECT_EQ(FindModule(model, "model.layers.1.mlp")->class_name, "Qwen3MoeSparseMoeBlock");
  for (const char* dense : {"model.layers.0.mlp", "model.layers.2.mlp", "model.layers.3.mlp"}) {
    EXPECT_EQ(FindModule(model, dense)->class_name, "Qwen3MoeMLP") << dense;
  }
  EXPECT_EQ(FindModule(model, "model.layers.3.mlp.up_proj")->out_features, 6144);
  EXPECT_EQ(FindParam(model, "model.layers.1.mlp.experts.down_proj")->shape,
            (std::vector<int64_t>{128, 2048, 768}));
}

TEST(ModelFromConfigTest, Qwen3MoeAcceptsHubSpellingOfExpertCount) {
  Json config = FixtureConfig("Qwen3MoeForCausalLM.fused");
  config.erase("num_local_experts");
  config["num_experts"] = 16;
  ModelInput model = BuildOrDie(config, "Qwen3MoeForCausalLM");
  EXPECT_EQ(FindParam(model, "model.layers.0.mlp.gate.weight")->shape,
            (std::vector<int64_t>{16, 2048}));
}

TEST(ModelFromConfigTest, Qwen3NextLayerTypesDefaultToEveryFourthFullAttention) {
  Json config = FixtureConfig("Qwen3NextForCausalLM.fused");
  config.erase("layer_types");
  config["num_hidden_layers"] = 8;
  ModelInput model = BuildOrDie(config, "Qwen3NextForCausalLM");
  for (int i = 0; i < 8; ++i) {
    bool full = (i + 1) % 4 == 0;
    std::string layer = absl::StrCat("model.layers.", i);
    EXPECT_EQ(FindModule(model, layer + ".self_attn") != nullptr, full) << i;
    EXPECT_EQ(FindModule(model, layer + ".linear_attn") != nullptr, !full) << i;
  }
  config["full_attention_interval"] = 2;
  model = BuildOrDie(config, "Qwen3NextForCausalLM");
  EXPECT_NE(FindModule(model, "model.layers.1.self_attn"), nullptr);
}

TEST(ModelFromConfigTest, Qwen3NextAcceptsLegacyLayerTypeNames) {
  Json config = FixtureConfig("Qwen3NextForCausalLM.fused");
  config["num_hidden_layers"] = 2;
  config["layer_types"] = {"mamba", "attention"};
  ModelInput model = BuildOrDie(config, "Qwen3NextForCausalLM");
  EXPECT_NE(FindModule(model, "model.layers.0.linear_attn"), nullptr);
  EXPECT_NE(FindModule(model, "model.layers.1.self_attn"), nullptr);
}

// Mixtral and Qwen2-MoE have no fixture; these pin the layout read from
// transformers 5.17's modeling_mixtral.py / modeling_qwen2_moe.py.
TEST(ModelFromConfigTest, MixtralRouterPrecedesFusedExperts) {
  Json config = SmallLlama();
  config["num_local_experts"] = 4;
  ModelInput model = BuildOrDie(config, "MixtralForCausalLM");
  EXPECT_EQ(ChildNames(model, "model.layers.1.mlp"),
            (std::vector<std::string>{"model.layers.1.mlp.gate", "model.layers.1.mlp.experts"}));
  EXPECT_EQ(FindModule(model, "model.layers.1.mlp.experts")->class_name, "MixtralExperts");
  // Mixtral's experts are intermediate_size wide.
  EXPECT_EQ(FindParam(model, "model.layers.1.mlp.experts.gate_up_proj")->shape,
            (std::vector<int64_t>{4, 256, 64}));
  EXPECT_EQ(FindParam(model, "model.layers.1.mlp.experts.down_proj")->shape,
            (std::vector<int64_t>{4, 64, 128}));
}

TEST(ModelFromConfigTest, Qwen2MoeHasSharedExpertAndQkvBiasByDefault) {
  Json config = SmallLlama();
  config["num_experts"] = 4;
  config["moe_intermediate_size"] = 16;
  config["shared_expert_intermediate_size"] = 48;
  ModelInput model = BuildOrDie(config, "Qwen2MoeForCausalLM");
  EXPECT_EQ(ChildNames(model, "model.layers.0.mlp"),
            (std::vector<std::string>{"model.layers.0.mlp.gate", "model.layers.0.mlp.experts",
                                      "model.layers.0.mlp.shared_expert",
                                      "model.layers.0.mlp.shared_expert_gate"}));
  EXPECT_EQ(FindModule(model, "model.layers.0.mlp.shared_expert.down_proj")->in_features, 48);
  EXPECT_EQ(FindModule(model, "model.layers.0.mlp.shared_expert_gate")->out_features, 1);
  EXPECT_NE(FindParam(model, "model.layers.0.self_attn.q_proj.bias"), nullptr);
  EXPECT_EQ(FindParam(model, "model.layers.0.self_attn.o_proj.bias"), nullptr);
  config["qkv_bias"] = false;
  model = BuildOrDie(config, "Qwen2MoeForCausalLM");
  EXPECT_EQ(FindParam(model, "model.layers.0.self_attn.q_proj.bias"), nullptr);
}

TEST(ModelFromConfigTest, ActivationClassFollowsConfig) {
  Json config = SmallLlama();
  config["hidden_act"] = "relu6";
  ModelInput model = BuildOrDie(config);
  const Module* act = FindModule(model, "model.layers.0.mlp.act_fn");
  EXPECT_EQ(act->class_name, "ReLU6");
  EXPECT_EQ(act->mro, (std::vector<std::string>{"ReLU6", "Hardtanh"}));
}

TEST(IsModelConfigTest, TellsAConfigFromModuleDumpsAndIndexes) {
  EXPECT_TRUE(IsModelConfig(Json{{"model_type", "llama"}}));
  EXPECT_TRUE(IsModelConfig(Json{{"architectures", {"LlamaForCausalLM"}}}));
  EXPECT_FALSE(IsModelConfig(Json{{"model_type", "llama"}, {"modules", Json::array()}}));
  EXPECT_FALSE(IsModelConfig(Json{{"model_type", "llama"}, {"weight_map", Json::object()}}));
  EXPECT_FALSE(IsModelConfig(Json{{"hidden_size", 8}}));
  EXPECT_FALSE(IsModelConfig(Json::array()));
}

}  // namespace
}  // namespace mapping
}  // namespace wring
