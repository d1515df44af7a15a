#include "mapping/awq/awq_mapping.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/awq/awq_mappings_json.h"
#include "mapping/base/json.h"
#include "mapping/base/python_repr.h"
#include "mapping/match/matchers.h"

namespace wring {
namespace mapping {
namespace {

struct AwqRegistryData {
  std::vector<AwqMappingList> lists;
  const AwqMappingList* default_list = nullptr;
  std::map<std::string, const AwqMappingList*, std::less<>> registry;
  std::vector<std::pair<std::string, std::string>> dynamic_registry;
  std::string step3p5_pattern;
};

// The data is compiled in and checked by awq_mapping_test; a malformed copy
// is a broken build, not an input error, so it stops the program.
[[noreturn]] void BrokenData(absl::string_view what) {
  std::fprintf(stderr, "mapping/awq/data/awq_mappings.json: %s\n", std::string(what).c_str());
  std::abort();
}

std::string StringOrDie(const Json& object, const char* key) {
  absl::optional<std::string> value = JsonString(object, key);
  if (!value) BrokenData(absl::StrCat("missing string \"", key, "\""));
  return *value;
}

std::vector<std::string> StringsOrDie(const Json& object, const char* key) {
  const Json* list = JsonMember(object, key);
  if (list == nullptr || !list->is_array()) BrokenData(absl::StrCat("missing list \"", key, "\""));
  std::vector<std::string> out;
  for (const Json& item : *list) {
    if (!item.is_string()) BrokenData(absl::StrCat("\"", key, "\" holds a non-string"));
    out.push_back(item.get<std::string>());
  }
  return out;
}

const Json& ArrayOrDie(const Json& object, const char* key) {
  const Json* list = JsonMember(object, key);
  if (list == nullptr || !list->is_array()) BrokenData(absl::StrCat("missing list \"", key, "\""));
  return *list;
}

AwqRegistryData* LoadData() {
  absl::StatusOr<Json> json = ParseJson(embedded::AwqMappingsJson(), "awq_mappings.json");
  if (!json.ok()) BrokenData(json.status().message());
  auto* data = new AwqRegistryData;
  const Json& lists = ArrayOrDie(*json, "lists");
  data->lists.reserve(lists.size());  // registry entries point into it
  for (const Json& list : lists) {
    AwqMappingList parsed{StringOrDie(list, "name"), {}};
    for (const Json& m : ArrayOrDie(list, "mappings")) {
      AwqMapping mapping{StringOrDie(m, "smooth_layer"), StringsOrDie(m, "balance_layers"),
                         JsonString(m, "activation_hook_target")};
      parsed.mappings.push_back(std::move(mapping));
    }
    data->lists.push_back(std::move(parsed));
  }
  auto find_list = [&](const std::string& name) -> const AwqMappingList* {
    for (const AwqMappingList& list : data->lists) {
      if (list.name == name) return &list;
    }
    BrokenData(absl::StrCat("no list named ", name));
  };
  data->default_list = find_list(StringOrDie(*json, "default_list"));
  for (const Json& entry : ArrayOrDie(*json, "registry")) {
    data->registry.emplace(StringOrDie(entry, "architecture"),
                           find_list(StringOrDie(entry, "list")));
  }
  for (const Json& entry : ArrayOrDie(*json, "dynamic_registry")) {
    data->dynamic_registry.emplace_back(StringOrDie(entry, "architecture"),
                                        StringOrDie(entry, "builder"));
  }
  data->step3p5_pattern = StringOrDie(*json, "step3p5_ffn_layer_pattern");
  return data;
}

const AwqRegistryData& Data() {
  static const AwqRegistryData* data = LoadData();
  return *data;
}

}  // namespace

std::string AwqMappingRepr(const AwqMapping& mapping) {
  return absl::StrCat("AWQMapping(smooth_layer=", PythonStrRepr(mapping.smooth_layer),
                      ", balance_layers=", PythonListRepr(mapping.balance_layers),
                      ", activation_hook_target=",
                      mapping.activation_hook_target.has_value()
                          ? PythonStrRepr(*mapping.activation_hook_target)
                          : std::string("None"),
                      ")");
}

std::string AwqMappingListRepr(const std::vector<AwqMapping>& mappings) {
  return absl::StrCat("[",
                      absl::StrJoin(mappings, ", ",
                                    [](std::string* out, const AwqMapping& m) {
                                      out->append(AwqMappingRepr(m));
                                    }),
                      "]");
}

const AwqMappingList& DefaultAwqMappings() { return *Data().default_list; }

const AwqMappingList* FindRegisteredAwqMappings(absl::string_view architecture) {
  auto it = Data().registry.find(architecture);
  return it == Data().registry.end() ? nullptr : it->second;
}

std::vector<std::pair<std::string, const AwqMappingList*>> AwqRegistryEntries() {
  return {Data().registry.begin(), Data().registry.end()};
}

const std::vector<AwqMappingList>& AwqMappingLists() { return Data().lists; }

absl::optional<std::string> DynamicAwqBuilderName(absl::string_view architecture) {
  for (const auto& [arch, builder] : Data().dynamic_registry) {
    if (arch == architecture) return builder;
  }
  return absl::nullopt;
}

const std::vector<std::pair<std::string, std::string>>& DynamicAwqRegistry() {
  return Data().dynamic_registry;
}

const std::string& Step3p5FfnLayerPattern() { return Data().step3p5_pattern; }

}  // namespace mapping
}  // namespace wring
