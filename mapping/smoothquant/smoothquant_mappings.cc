#include "mapping/smoothquant/smoothquant_mappings.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/awq/dynamic_mappings.h"
#include "mapping/base/python_repr.h"
#include "mapping/match/matchers.h"
#include "mapping/smoothquant/smoothquant_mappings_json.h"

namespace wring {
namespace mapping {
namespace smoothquant {
namespace {

constexpr char kQwen35MoeBuilder[] = "build_qwen3_5_moe_smoothquant_mappings";
constexpr char kQwen35DenseBuilder[] = "build_qwen3_5_dense_smoothquant_mappings";

struct SmoothQuantRegistryData {
  std::vector<LayerMapList> lists;
  const LayerMapList* default_list = nullptr;
  std::vector<std::pair<std::string, const LayerMapList*>> registry;
  std::vector<std::pair<std::string, std::string>> dynamic_registry;
};

// The data is compiled in and checked by smoothquant_mappings_test; a
// malformed copy is a broken build, not an input error.
[[noreturn]] void BrokenData(absl::string_view what) {
  std::fprintf(stderr, "mapping/smoothquant/data/smoothquant_mappings.json: %s\n",
               std::string(what).c_str());
  std::abort();
}

const Json& Member(const Json& object, const char* key, bool array) {
  const Json* value = JsonMember(object, key);
  if (value == nullptr || (array ? !value->is_array() : !value->is_string())) {
    BrokenData(absl::StrCat("missing ", array ? "list" : "string", " \"", key, "\""));
  }
  return *value;
}

std::string String(const Json& object, const char* key) {
  return Member(object, key, false).get<std::string>();
}

SmoothQuantRegistryData* LoadData() {
  absl::StatusOr<Json> json =
      ParseJson(embedded::SmoothQuantMappingsJson(), "smoothquant_mappings.json");
  if (!json.ok()) BrokenData(json.status().message());
  auto* data = new SmoothQuantRegistryData;
  const Json& lists = Member(*json, "lists", true);
  data->lists.reserve(lists.size());  // the registry points into it
  for (const Json& list : lists) {
    LayerMapList parsed{String(list, "name"), {}};
    for (const Json& m : Member(list, "mappings", true)) {
      LayerMap map;
      for (const Json& b : Member(m, "balance_layers", true)) {
        if (!b.is_string()) BrokenData("balance_layers holds a non-string");
        map.balance_layers.push_back(b.get<std::string>());
      }
      map.smooth_layers = String(m, "smooth_layers");
      parsed.mappings.push_back(std::move(map));
    }
    data->lists.push_back(std::move(parsed));
  }
  auto list_named = [&](const std::string& name) -> const LayerMapList* {
    for (const LayerMapList& list : data->lists) {
      if (list.name == name) return &list;
    }
    BrokenData(absl::StrCat("no list named ", name));
  };
  data->default_list = list_named(String(*json, "default_list"));
  for (const Json& entry : Member(*json, "registry", true)) {
    data->registry.emplace_back(String(entry, "architecture"), list_named(String(entry, "list")));
  }
  for (const Json& entry : Member(*json, "dynamic_registry", true)) {
    data->dynamic_registry.emplace_back(String(entry, "architecture"), String(entry, "builder"));
  }
  return data;
}

const SmoothQuantRegistryData& Data() {
  static const SmoothQuantRegistryData* data = LoadData();
  return *data;
}

// _build_qwen3_5_smoothquant_mappings: attention smoothing only on the
// full-attention layers (linear-attention layers have no q/k/v), the MLP
// through the caller's balance layers.
ChosenSmoothQuantMappings BuildQwen35Mappings(const Json& config,
                                              std::vector<std::string> mlp_balance_layers) {
  ChosenSmoothQuantMappings chosen;
  chosen.source = SmoothQuantMappingSource::kDynamic;
  absl::optional<std::vector<std::string>> layer_types = GetConfigLayerTypes(config);
  if (!layer_types.has_value()) {
    chosen.error =
        "ValueError: Qwen3.5 SmoothQuant mappings require model.config.text_config.layer_types "
        "(or model.config.layer_types) to identify full_attention layers.";
    return chosen;
  }
  std::vector<size_t> full;
  for (size_t i = 0; i < layer_types->size(); ++i) {
    if ((*layer_types)[i] == "full_attention") full.push_back(i);
  }
  if (full.empty()) {
    chosen.error =
        "ValueError: Qwen3.5 SmoothQuant mappings require at least one full_attention layer in "
        "layer_types.";
    return chosen;
  }
  chosen.mappings = {
      LayerMap{{"re:.*self_attn\\.q_proj$", "re:.*self_attn\\.k_proj$",
                "re:.*self_attn\\.v_proj$"},
               absl::StrCat("re:.*layers\\.(", absl::StrJoin(full, "|"), ")\\.input_layernorm$")},
      LayerMap{std::move(mlp_balance_layers), "re:.*post_attention_layernorm$"},
  };
  return chosen;
}

}  // namespace

std::string LayerMapRepr(const LayerMap& map) {
  return absl::StrCat("LayerMap(balance_layers=", PythonListRepr(map.balance_layers),
                      ", smooth_layers=", PythonStrRepr(map.smooth_layers), ")");
}

std::string LayerMapListRepr(const std::vector<LayerMap>& maps) {
  return absl::StrCat("[",
                      absl::StrJoin(maps, ", ",
                                    [](std::string* out, const LayerMap& m) {
                                      out->append(LayerMapRepr(m));
                                    }),
                      "]");
}

const LayerMapList& DefaultSmoothQuantMappings() { return *Data().default_list; }

const LayerMapList* FindRegisteredSmoothQuantMappings(absl::string_view architecture) {
  for (const auto& [arch, list] : Data().registry) {
    if (arch == architecture) return list;
  }
  return nullptr;
}

const std::vector<std::pair<std::string, const LayerMapList*>>& SmoothQuantRegistry() {
  return Data().registry;
}

const std::vector<LayerMapList>& SmoothQuantMappingLists() { return Data().lists; }

const std::vector<std::pair<std::string, std::string>>& DynamicSmoothQuantRegistry() {
  return Data().dynamic_registry;
}

absl::optional<std::string> DynamicSmoothQuantBuilderName(absl::string_view architecture) {
  for (const auto& [arch, builder] : Data().dynamic_registry) {
    if (arch == architecture) return builder;
  }
  return absl::nullopt;
}

bool IsImplementedSmoothQuantBuilder(absl::string_view builder) {
  return builder == kQwen35MoeBuilder || builder == kQwen35DenseBuilder;
}

const char* SmoothQuantMappingSourceName(SmoothQuantMappingSource source) {
  switch (source) {
    case SmoothQuantMappingSource::kDynamic:
      return "dynamic";
    case SmoothQuantMappingSource::kRegistry:
      return "registry";
    case SmoothQuantMappingSource::kDefault:
      return "default";
  }
  return "default";
}

ChosenSmoothQuantMappings ChooseSmoothQuantMappings(const Json& config,
                                                   absl::string_view architecture) {
  // A dynamic builder answers outright: upstream does not fall through to
  // the registry from one, and its ValueErrors propagate.
  if (absl::optional<std::string> builder = DynamicSmoothQuantBuilderName(architecture)) {
    ChosenSmoothQuantMappings chosen;
    if (*builder == kQwen35MoeBuilder) {
      chosen = BuildQwen35Mappings(
          config, {"re:.*mlp\\.shared_expert\\.gate_proj$", "re:.*mlp\\.shared_expert\\.up_proj$"});
    } else if (*builder == kQwen35DenseBuilder) {
      chosen = BuildQwen35Mappings(config, {"re:.*mlp\\.gate_proj$", "re:.*mlp\\.up_proj$"});
    } else {
      // Only a newer registry than wring implements gets here
      // (smoothquant_mappings_test checks every builder the data names).
      chosen.source = SmoothQuantMappingSource::kDynamic;
      chosen.error = absl::StrCat("llm-compressor builds the SmoothQuant mappings of ",
                                  architecture, " with ", *builder,
                                  ", which wring does not implement yet");
    }
    chosen.list_name = *builder;
    return chosen;
  }
  ChosenSmoothQuantMappings chosen;
  if (const LayerMapList* list = FindRegisteredSmoothQuantMappings(architecture)) {
    chosen.source = SmoothQuantMappingSource::kRegistry;
    chosen.list_name = list->name;
    chosen.mappings = list->mappings;
    return chosen;
  }
  const LayerMapList& fallback = DefaultSmoothQuantMappings();
  chosen.source = SmoothQuantMappingSource::kDefault;
  chosen.list_name = fallback.name;
  chosen.mappings = fallback.mappings;
  chosen.log.push_back(absl::StrCat("INFO Architecture ", architecture,
                                    " not found in mappings. Using default mappings: ",
                                    LayerMapListRepr(fallback.mappings)));
  return chosen;
}

}  // namespace smoothquant
}  // namespace mapping
}  // namespace wring
