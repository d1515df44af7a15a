#include "mapping/archs/internal/vision_tower.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "mapping/archs/internal/config_sizes.h"
#include "mapping/archs/internal/family_table.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace mapping {
namespace archs_internal {
namespace {

// vision_config fields with Qwen3_5VisionConfig's defaults.
class VisionFields {
 public:
  VisionFields(const Json* vision, absl::string_view source) : vision_(vision), source_(source) {}

  absl::StatusOr<int64_t> Int(absl::string_view key, int64_t fallback) const {
    const Json* value = vision_ == nullptr ? nullptr : JsonMember(*vision_, key);
    if (value == nullptr || value->is_null()) return fallback;
    if (!value->is_number_integer() || value->get<int64_t>() < 1 || value->get<int64_t>() > kMaxDimension) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ": config field \"vision_config.", key,
                                                     "\" must be a positive integer. Fix config.json."));
    }
    return value->get<int64_t>();
  }

  absl::StatusOr<std::string> Activation() const {
    const Json* value = vision_ == nullptr ? nullptr : JsonMember(*vision_, "hidden_act");
    std::string name = "gelu_pytorch_tanh";
    if (value != nullptr && value->is_string()) name = value->get<std::string>();
    const char* mro = ActivationMro(name);
    if (mro == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ": config field \"vision_config.hidden_act\" names \"",
                                                     name, "\", which wring cannot build from config.json alone"));
    }
    return std::string(mro);
  }

 private:
  const Json* vision_;
  std::string source_;
};

Parameter Param(std::string name, std::vector<int64_t> shape) {
  Parameter p;
  p.name = std::move(name);
  p.shape = std::move(shape);
  return p;
}

VisionModule Linear(std::string name, int64_t in, int64_t out) {
  return {std::move(name), "Linear", {Param("weight", {out, in}), Param("bias", {out})}, true};
}

VisionModule LayerNorm(std::string name, int64_t size) {
  return {std::move(name), "LayerNorm", {Param("weight", {size}), Param("bias", {size})}, false};
}

}  // namespace

absl::Status WriteQwen3_5VisionTower(const Json& config, absl::string_view source, absl::string_view base,
                                     const std::function<void(VisionModule)>& add) {
  const Json* vision = JsonMember(config, "vision_config");
  if (vision != nullptr && !vision->is_null() && !vision->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": config field \"vision_config\" must be an object. Fix config.json."));
  }
  const VisionFields f(vision, source);
  WRING_ASSIGN_OR_RETURN(const int64_t depth, f.Int("depth", 27));
  WRING_ASSIGN_OR_RETURN(const int64_t hidden, f.Int("hidden_size", 1152));
  WRING_ASSIGN_OR_RETURN(const int64_t intermediate, f.Int("intermediate_size", 4304));
  WRING_ASSIGN_OR_RETURN(const int64_t channels, f.Int("in_channels", 3));
  WRING_ASSIGN_OR_RETURN(const int64_t patch, f.Int("patch_size", 16));
  WRING_ASSIGN_OR_RETURN(const int64_t temporal, f.Int("temporal_patch_size", 2));
  WRING_ASSIGN_OR_RETURN(const int64_t merge, f.Int("spatial_merge_size", 2));
  WRING_ASSIGN_OR_RETURN(const int64_t out_hidden, f.Int("out_hidden_size", 3584));
  WRING_ASSIGN_OR_RETURN(const int64_t positions, f.Int("num_position_embeddings", 2304));
  WRING_ASSIGN_OR_RETURN(const std::string activation, f.Activation());
  if (depth > kMaxLayers) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": config field \"vision_config.depth\" is too large"));
  }
  const std::string b(base);
  add({b, "{P}VisionModel,{P}PreTrainedModel,PreTrainedModel", {}, false});
  add({b + ".patch_embed", "{P}VisionPatchEmbed", {}, false});
  add({b + ".patch_embed.proj", "Conv3d,_ConvNd",
       {Param("weight", {hidden, channels, temporal, patch, patch}), Param("bias", {hidden})}, false});
  add({b + ".pos_embed", "Embedding", {Param("weight", {positions, hidden})}, false});
  add({b + ".rotary_pos_emb", "{P}VisionRotaryEmbedding", {}, false});
  add({b + ".blocks", "ModuleList", {}, false});
  for (int64_t i = 0; i < depth; ++i) {
    const std::string block = absl::StrCat(b, ".blocks.", i);
    add({block, "{P}VisionBlock,GradientCheckpointingLayer", {}, false});
    add(LayerNorm(block + ".norm1", hidden));
    add(LayerNorm(block + ".norm2", hidden));
    add({block + ".attn", "{P}VisionAttention", {}, false});
    add(Linear(block + ".attn.qkv", hidden, 3 * hidden));
    add(Linear(block + ".attn.proj", hidden, hidden));
    add({block + ".mlp", "{P}VisionMLP", {}, false});
    add(Linear(block + ".mlp.linear_fc1", hidden, intermediate));
    add(Linear(block + ".mlp.linear_fc2", intermediate, hidden));
    add({block + ".mlp.act_fn", activation, {}, false});
  }
  const int64_t merged = hidden * merge * merge;
  add({b + ".merger", "{P}VisionPatchMerger", {}, false});
  add(LayerNorm(b + ".merger.norm", hidden));
  add(Linear(b + ".merger.linear_fc1", merged, merged));
  add({b + ".merger.act_fn", "GELU", {}, false});
  add(Linear(b + ".merger.linear_fc2", merged, out_hidden));
  return absl::OkStatus();
}

}  // namespace archs_internal
}  // namespace mapping
}  // namespace wring
