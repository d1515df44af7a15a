#include "mapping/spinquant/spinquant_resolution.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/testing/decoder_trees.h"
#include "mapping/testing/python_sets.h"

namespace wring {
namespace mapping {
namespace spinquant {
namespace {

using ::wring::mapping::testing::BuildDecoderTree;
using ::wring::mapping::testing::DecoderShape;
using ::wring::mapping::testing::SameMessageUpToSetOrder;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> Names(const ModuleTree& tree, const std::vector<int>& modules) {
  std::vector<std::string> names;
  for (int m : modules) names.push_back(tree.module(m).name);
  return names;
}

const FieldMatches& Field(const SpinQuantResolution& r, const std::string& name) {
  for (const FieldMatches& f : r.fields) {
    if (f.field == name) return f;
  }
  ADD_FAILURE() << "no field " << name;
  static const FieldMatches* const kNone = new FieldMatches;
  return *kNone;
}

TEST(SpinQuantResolutionTest, LlamaFieldsMatchInModuleOrder) {
  ModuleTree tree = BuildDecoderTree(DecoderShape{});
  absl::StatusOr<SpinQuantResolution> r = ResolveSpinQuant(tree);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->architecture, "LlamaForCausalLM");
  EXPECT_THAT(r->info_messages, IsEmpty());

  EXPECT_THAT(Names(tree, Field(*r, "embedding").modules), ElementsAre("model.embed_tokens"));
  EXPECT_THAT(Names(tree, Field(*r, "attn").modules),
              ElementsAre("model.layers.0.self_attn", "model.layers.1.self_attn"));
  // Targets are [up, gate] but matches come in named_modules() order.
  EXPECT_THAT(Field(*r, "mlp_in").targets, ElementsAre("re:.*up_proj$", "re:.*gate_proj$"));
  EXPECT_THAT(Names(tree, Field(*r, "mlp_in").modules),
              ElementsAre("model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj",
                          "model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj"));
  EXPECT_THAT(Names(tree, Field(*r, "lm_head").modules), ElementsAre("lm_head"));
  for (const FieldMatches& f : r->fields) EXPECT_THAT(f.unmatched_targets, IsEmpty()) << f.field;
}

TEST(SpinQuantResolutionTest, LlamaNormsGroupPerLayer) {
  ModuleTree tree = BuildDecoderTree(DecoderShape{});
  absl::StatusOr<SpinQuantResolution> r = ResolveSpinQuant(tree);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->norms.size(), 3u);

  const NormGroups& input = r->norms[0];
  EXPECT_TRUE(input.match_error.ok()) << input.match_error;
  ASSERT_EQ(input.sets.size(), 2u);
  EXPECT_THAT(Names(tree, input.sets[1][0]), ElementsAre("model.layers.1.input_layernorm"));
  EXPECT_THAT(Names(tree, input.sets[1][1]), ElementsAre("model.layers.1.self_attn.q_proj"));
  EXPECT_THAT(Names(tree, input.sets[1][3]), ElementsAre("model.layers.1.self_attn.v_proj"));

  // Sets keep the mapping's target order (up, gate), not module order.
  const NormGroups& post = r->norms[1];
  ASSERT_EQ(post.sets.size(), 2u);
  EXPECT_THAT(Names(tree, post.sets[0][1]), ElementsAre("model.layers.0.mlp.up_proj"));
  EXPECT_THAT(Names(tree, post.sets[0][2]), ElementsAre("model.layers.0.mlp.gate_proj"));

  const NormGroups& final_norm = r->norms[2];
  ASSERT_EQ(final_norm.sets.size(), 1u);
  EXPECT_THAT(Names(tree, final_norm.sets[0][0]), ElementsAre("model.norm"));
  EXPECT_THAT(Names(tree, final_norm.sets[0][1]), ElementsAre("lm_head"));

  EXPECT_TRUE(FuseNormsError(tree, *r).ok());
}

TEST(SpinQuantResolutionTest, UnregisteredArchitectureLogsBothFallbacks) {
  DecoderShape shape;
  shape.architecture = "MistralForCausalLM";
  ModuleTree tree = BuildDecoderTree(shape);
  absl::StatusOr<SpinQuantResolution> r = ResolveSpinQuant(tree);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string message =
      "Unrecognized model architecture MistralForCausalLM. Falling back to default mappings";
  EXPECT_THAT(r->info_messages, ElementsAre(message, message));
  EXPECT_EQ(r->mapping, DefaultSpinQuantMapping());
}

TEST(SpinQuantResolutionTest, Cohere2MoeUsesOnlyTheFinalNormMapping) {
  DecoderShape shape;
  shape.architecture = "Cohere2MoeForCausalLM";
  ModuleTree tree = BuildDecoderTree(shape);
  absl::StatusOr<SpinQuantResolution> r = ResolveSpinQuant(tree);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->norms.size(), 1u);
  EXPECT_EQ(r->norms[0].mapping.norm, "model.norm");
  // mlp_in now lists gate first; matches are still in module order.
  EXPECT_THAT(Field(*r, "mlp_in").targets,
              ElementsAre("re:.*gate_proj$", "re:.*up_proj$", "re:.*mlp\\.gate\\.linear$"));
  EXPECT_THAT(Names(tree, Field(*r, "mlp_in").modules),
              ElementsAre("model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj",
                          "model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj"));
}

TEST(SpinQuantResolutionTest, Phi3FusedProjectionsLeaveNormSetsIncomplete) {
  DecoderShape shape;
  shape.architecture = "Phi3ForCausalLM";
  shape.fused_projections = true;
  ModuleTree tree = BuildDecoderTree(shape);
  absl::StatusOr<SpinQuantResolution> r = ResolveSpinQuant(tree);
  ASSERT_TRUE(r.ok()) << r.status();

  // "qkv_proj" ends in "v_proj" and "gate_up_proj" in "up_proj".
  EXPECT_THAT(
      Names(tree, Field(*r, "attn_v").modules),
      ElementsAre("model.layers.0.self_attn.qkv_proj", "model.layers.1.self_attn.qkv_proj"));
  EXPECT_THAT(Field(*r, "attn_q").modules, IsEmpty());
  EXPECT_THAT(Field(*r, "attn_q").unmatched_targets, ElementsAre("re:.*q_proj$"));
  EXPECT_THAT(Names(tree, Field(*r, "mlp_in").modules),
              ElementsAre("model.layers.0.mlp.gate_up_proj", "model.layers.1.mlp.gate_up_proj"));

  std::string why;
  EXPECT_TRUE(SameMessageUpToSetOrder(
      std::string(r->norms[0].match_error.message()),
      "Found a final incomplete set with matches found for keys: {'re:.*v_proj$', "
      "'re:.*input_layernorm$'} but no matches found for keys: {'re:.*q_proj$', "
      "'re:.*k_proj$'}",
      &why))
      << why;
  EXPECT_TRUE(SameMessageUpToSetOrder(
      std::string(r->norms[1].match_error.message()),
      "Found a final incomplete set with matches found for keys: {'re:.*up_proj$', "
      "'re:.*post_attention_layernorm$'} but no matches found for keys: {'re:.*gate_proj$'}",
      &why))
      << why;
  EXPECT_TRUE(r->norms[2].match_error.ok());

  // _fuse_norms fails on the first mapping.
  absl::Status fuse = FuseNormsError(tree, *r);
  EXPECT_EQ(fuse, r->norms[0].match_error);
}

TEST(SpinQuantResolutionTest, MissingModelNormIsAFinalIncompleteSet) {
  DecoderShape shape;
  shape.final_norm = "model.final_layernorm";
  ModuleTree tree = BuildDecoderTree(shape);
  absl::StatusOr<SpinQuantResolution> r = ResolveSpinQuant(tree);
  ASSERT_TRUE(r.ok()) << r.status();
  const NormGroups& final_norm = r->norms[2];
  EXPECT_EQ(final_norm.match_error.message(),
            "Found a final incomplete set with matches found for keys: {'lm_head'} but no "
            "matches found for keys: {'model.norm'}");
  EXPECT_THAT(final_norm.sets, IsEmpty());
  EXPECT_EQ(FuseNormsError(tree, *r), final_norm.match_error);

  Json json = ResolutionToJson(tree, *r);
  const Json& entry = json["norms"][2];
  EXPECT_EQ(entry["error"], std::string(final_norm.match_error.message()));
  EXPECT_FALSE(entry.contains("groups"));
}

TEST(SpinQuantResolutionTest, SeveralNormsInOneSetFailTheFusionAssertion) {
  // Two layers whose attention has no q/k/v (as in linear-attention layers):
  // their input_layernorms pile into the set of the next full-attention layer.
  std::vector<Module> modules = {
      {"", "LlamaForCausalLM", {"LlamaForCausalLM"}},
      {"model", "M", {"M"}},
      {"model.layers", "ModuleList", {"ModuleList"}},
      {"model.layers.0", "L", {"L"}},
      {"model.layers.0.input_layernorm", "RMSNorm", {"RMSNorm"}},
      {"model.layers.1", "L", {"L"}},
      {"model.layers.1.input_layernorm", "RMSNorm", {"RMSNorm"}},
      {"model.layers.1.self_attn", "A", {"A"}},
      {"model.layers.1.self_attn.q_proj", "Linear", {"Linear"}, 8, 8},
      {"model.layers.1.self_attn.k_proj", "Linear", {"Linear"}, 8, 8},
      {"model.layers.1.self_attn.v_proj", "Linear", {"Linear"}, 8, 8},
  };
  absl::StatusOr<ModuleTree> tree = ModuleTree::Create(modules);
  ASSERT_TRUE(tree.ok()) << tree.status();
  absl::StatusOr<SpinQuantResolution> r =
      ResolveSpinQuant(*tree, DefaultSpinQuantMapping(), {DefaultNormMappings()[0]});
  ASSERT_TRUE(r.ok()) << r.status();
  const NormGroups& input = r->norms[0];
  EXPECT_TRUE(input.match_error.ok()) << input.match_error;
  ASSERT_EQ(input.sets.size(), 1u);
  EXPECT_THAT(Names(*tree, input.sets[0][0]),
              ElementsAre("model.layers.0.input_layernorm", "model.layers.1.input_layernorm"));
  EXPECT_EQ(input.first_set_without_single_norm, 0);

  absl::Status fuse = FuseNormsError(*tree, *r);
  EXPECT_EQ(fuse.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(fuse.message(), HasSubstr("AssertionError"));
  EXPECT_THAT(fuse.message(), HasSubstr("'model.layers.0.input_layernorm'"));
}

TEST(SpinQuantResolutionTest, JsonHasTheFixtureShape) {
  ModuleTree tree = BuildDecoderTree(DecoderShape{});
  absl::StatusOr<SpinQuantResolution> r = ResolveSpinQuant(tree);
  ASSERT_TRUE(r.ok()) << r.status();
  Json json = ResolutionToJson(tree, *r);
  EXPECT_TRUE(json["head_dim"].is_null());
  EXPECT_EQ(json["fields"]["attn_o"]["patterns"], Json::array({"re:.*o_proj$"}));
  EXPECT_EQ(json["fields"]["attn_o"]["matches"],
            Json::array({"model.layers.0.self_attn.o_proj", "model.layers.1.self_attn.o_proj"}));
  EXPECT_EQ(json["norms"][2]["groups"],
            ParseJson(R"([[["model.norm"], ["lm_head"]]])", "expected").value());
  EXPECT_EQ(json["norms"][0]["linears"],
            Json::array({"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}));

  SpinQuantMapping with_head_dim = DefaultSpinQuantMapping();
  with_head_dim.attn_head_dim = 64;
  absl::StatusOr<SpinQuantResolution> r2 =
      ResolveSpinQuant(tree, with_head_dim, DefaultNormMappings());
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(ResolutionToJson(tree, *r2)["head_dim"], 64);
}

TEST(SpinQuantResolutionTest, InvalidTargetIsAnError) {
  ModuleTree tree = BuildDecoderTree(DecoderShape{});
  SpinQuantMapping mapping = DefaultSpinQuantMapping();
  mapping.attn_q = "re:(?<=x)q_proj";
  absl::StatusOr<SpinQuantResolution> r = ResolveSpinQuant(tree, mapping, {});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("q_proj"));
}

}  // namespace
}  // namespace spinquant
}  // namespace mapping
}  // namespace wring
