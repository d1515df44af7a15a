#include "mapping/spinquant/spinquant_mappings.h"

#include <cstdio>
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "mapping/base/json.h"
#include "mapping/spinquant/spinquant_mappings_json.h"

namespace wring {
namespace mapping {
namespace spinquant {
namespace {

struct SpinQuantRegistryData {
  // Named values by their mappings.py / norm_mappings.py global names; the
  // registries point into them.
  std::map<std::string, SpinQuantMapping> mappings;
  std::map<std::string, std::vector<NormMapping>> norm_lists;
  const SpinQuantMapping* default_mapping = nullptr;
  const std::vector<NormMapping>* default_norms = nullptr;
  std::vector<std::pair<std::string, const SpinQuantMapping*>> registry;
  std::vector<std::pair<std::string, const std::vector<NormMapping>*>> norm_registry;
};

// The data is compiled in and checked by spinquant_mappings_test; a
// malformed copy is a broken build, not an input error.
[[noreturn]] void BrokenData(absl::string_view what) {
  std::fprintf(stderr, "mapping/spinquant/data/spinquant_mappings.json: %s\n",
               std::string(what).c_str());
  std::abort();
}

const Json& Member(const Json& object, const char* key) {
  const Json* value = JsonMember(object, key);
  if (value == nullptr) BrokenData(absl::StrCat("missing \"", key, "\""));
  return *value;
}

std::string String(const Json& object, const char* key) {
  const Json& value = Member(object, key);
  if (!value.is_string()) BrokenData(absl::StrCat("\"", key, "\" is not a string"));
  return value.get<std::string>();
}

// mlp_in / mlp_out accept a string or a list upstream; the generator writes
// the validated (list) form.
std::vector<std::string> Strings(const Json& object, const char* key) {
  const Json& value = Member(object, key);
  if (value.is_string()) return {value.get<std::string>()};
  if (!value.is_array()) BrokenData(absl::StrCat("\"", key, "\" is not a list"));
  std::vector<std::string> out;
  for (const Json& item : value) {
    if (!item.is_string()) BrokenData(absl::StrCat("\"", key, "\" holds a non-string"));
    out.push_back(item.get<std::string>());
  }
  return out;
}

const Json& Array(const Json& object, const char* key) {
  const Json& value = Member(object, key);
  if (!value.is_array()) BrokenData(absl::StrCat("\"", key, "\" is not a list"));
  return value;
}

SpinQuantRegistryData* LoadData() {
  absl::StatusOr<Json> json =
      ParseJson(embedded::SpinQuantMappingsJson(), "spinquant_mappings.json");
  if (!json.ok()) BrokenData(json.status().message());
  auto* data = new SpinQuantRegistryData;
  for (const Json& m : Array(*json, "mappings")) {
    SpinQuantMapping mapping;
    mapping.embedding = String(m, "embedding");
    mapping.attn = String(m, "attn");
    mapping.attn_q = String(m, "attn_q");
    mapping.attn_k = String(m, "attn_k");
    mapping.attn_v = String(m, "attn_v");
    mapping.attn_o = String(m, "attn_o");
    const Json& head_dim = Member(m, "attn_head_dim");
    if (head_dim.is_number_integer()) mapping.attn_head_dim = head_dim.get<int64_t>();
    mapping.mlp_in = Strings(m, "mlp_in");
    mapping.mlp_out = Strings(m, "mlp_out");
    mapping.lm_head = String(m, "lm_head");
    data->mappings.emplace(String(m, "name"), std::move(mapping));
  }
  for (const Json& list : Array(*json, "norm_lists")) {
    std::vector<NormMapping> norms;
    for (const Json& n : Array(list, "mappings")) {
      norms.push_back(NormMapping{String(n, "norm"), Strings(n, "linears")});
    }
    data->norm_lists.emplace(String(list, "name"), std::move(norms));
  }
  auto mapping_named = [&](const std::string& name) -> const SpinQuantMapping* {
    auto it = data->mappings.find(name);
    if (it == data->mappings.end()) BrokenData(absl::StrCat("no mapping named ", name));
    return &it->second;
  };
  auto norms_named = [&](const std::string& name) -> const std::vector<NormMapping>* {
    auto it = data->norm_lists.find(name);
    if (it == data->norm_lists.end()) BrokenData(absl::StrCat("no norm list named ", name));
    return &it->second;
  };
  data->default_mapping = mapping_named(String(*json, "default_mapping"));
  data->default_norms = norms_named(String(*json, "default_norm_list"));
  for (const Json& entry : Array(*json, "registry")) {
    data->registry.emplace_back(String(entry, "architecture"),
                                mapping_named(String(entry, "mapping")));
  }
  for (const Json& entry : Array(*json, "norm_registry")) {
    data->norm_registry.emplace_back(String(entry, "architecture"),
                                     norms_named(String(entry, "list")));
  }
  return data;
}

const SpinQuantRegistryData& Data() {
  static const SpinQuantRegistryData* data = LoadData();
  return *data;
}

// Upstream's registries are dicts of a few entries; a linear scan is what a
// lookup costs here.
template <typename Value>
const Value* FindEntry(const std::vector<std::pair<std::string, const Value*>>& registry,
                       absl::string_view architecture) {
  for (const auto& entry : registry) {
    if (entry.first == architecture) return entry.second;
  }
  return nullptr;
}

}  // namespace

bool SpinQuantMapping::operator==(const SpinQuantMapping& other) const {
  return embedding == other.embedding && attn == other.attn && attn_q == other.attn_q &&
         attn_k == other.attn_k && attn_v == other.attn_v && attn_o == other.attn_o &&
         attn_head_dim == other.attn_head_dim && mlp_in == other.mlp_in &&
         mlp_out == other.mlp_out && lm_head == other.lm_head;
}

std::vector<SpinQuantMappingField> MappingFields(const SpinQuantMapping& m) {
  return {
      {"embedding", {m.embedding}}, {"attn", {m.attn}},     {"attn_q", {m.attn_q}},
      {"attn_k", {m.attn_k}},       {"attn_v", {m.attn_v}}, {"attn_o", {m.attn_o}},
      {"mlp_in", m.mlp_in},         {"mlp_out", m.mlp_out}, {"lm_head", {m.lm_head}},
  };
}

const SpinQuantMapping& DefaultSpinQuantMapping() { return *Data().default_mapping; }

const std::vector<NormMapping>& DefaultNormMappings() { return *Data().default_norms; }

const std::vector<std::pair<std::string, const SpinQuantMapping*>>& SpinQuantMappingRegistry() {
  return Data().registry;
}

const std::vector<std::pair<std::string, const std::vector<NormMapping>*>>& NormMappingRegistry() {
  return Data().norm_registry;
}

std::string UnrecognizedArchitectureMessage(absl::string_view architecture) {
  return absl::StrCat("Unrecognized model architecture ", architecture,
                      ". Falling back to default mappings");
}

InferredSpinQuantMapping InferSpinQuantMapping(absl::string_view architecture) {
  if (const SpinQuantMapping* found = FindEntry(SpinQuantMappingRegistry(), architecture)) {
    return {found, false, absl::nullopt};
  }
  return {&DefaultSpinQuantMapping(), true, UnrecognizedArchitectureMessage(architecture)};
}

InferredNormMappings InferNormMappings(absl::string_view architecture) {
  if (const auto* found = FindEntry(NormMappingRegistry(), architecture)) {
    return {found, false, absl::nullopt};
  }
  return {&DefaultNormMappings(), true, UnrecognizedArchitectureMessage(architecture)};
}

}  // namespace spinquant
}  // namespace mapping
}  // namespace wring
