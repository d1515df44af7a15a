#include "mapping/model/fixture_format.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace mapping {
namespace {

absl::Status FieldError(absl::string_view source, absl::string_view where,
                        absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", where, ": ", problem));
}

absl::StatusOr<Module> ParseModule(const Json& entry, size_t index, absl::string_view source) {
  std::string where = absl::StrCat("modules[", index, "]");
  if (!entry.is_object()) {
    return FieldError(source, where,
                      absl::StrCat("expected an object {name, class, mro}, got ",
                                   JsonTypeName(entry)));
  }
  Module m;
  absl::optional<std::string> name = JsonString(entry, "name");
  if (!name.has_value()) {
    return FieldError(source, where, "missing string field \"name\" (\"\" for the root)");
  }
  m.name = *name;
  m.class_name = JsonString(entry, "class").value_or("");
  if (const Json* mro = JsonMember(entry, "mro")) {
    if (!mro->is_array()) {
      return FieldError(source, absl::StrCat(where, ".mro"), "expected a list of class names");
    }
    for (const Json& cls : *mro) {
      if (!cls.is_string()) {
        return FieldError(source, absl::StrCat(where, ".mro"), "class names must be strings");
      }
      m.mro.push_back(cls.get_ref<const std::string&>());
    }
  }
  if (m.class_name.empty() && m.mro.empty()) {
    return FieldError(source, where,
                      absl::StrCat("module \"", m.name, "\" has neither \"class\" nor \"mro\""));
  }
  for (const char* key : {"in", "out"}) {
    const Json* v = JsonMember(entry, key);
    if (v == nullptr || v->is_null()) continue;
    if (!v->is_number_integer() || v->get<int64_t>() < 0) {
      return FieldError(source, absl::StrCat(where, ".", key),
                        "expected a non-negative integer feature count");
    }
    (key[0] == 'i' ? m.in_features : m.out_features) = v->get<int64_t>();
  }
  return m;
}

absl::StatusOr<std::vector<Parameter>> ParseParams(const Json& params, absl::string_view source) {
  std::vector<Parameter> out;
  if (!params.is_array()) return FieldError(source, "params", "expected a list of [name, shape]");
  out.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Json& p = params[i];
    std::string where = absl::StrCat("params[", i, "]");
    if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_array()) {
      return FieldError(source, where, "expected [name, [dims...]]");
    }
    Parameter param;
    param.name = p[0].get_ref<const std::string&>();
    for (const Json& d : p[1]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) {
        return FieldError(source, where, "shape entries must be non-negative integers");
      }
      param.shape.push_back(d.get<int64_t>());
    }
    out.push_back(std::move(param));
  }
  return out;
}

}  // namespace

bool IsModuleDump(const Json& document) {
  return document.is_object() && JsonMember(document, "modules") != nullptr;
}

absl::StatusOr<ModelInput> ModelFromModuleDump(const Json& document, absl::string_view source) {
  const Json* modules = JsonMember(document, "modules");
  if (modules == nullptr || !modules->is_array()) {
    return FieldError(source, "modules",
                      "expected a list of {name, class, mro} objects in named_modules() order");
  }
  std::vector<Module> parsed;
  parsed.reserve(modules->size());
  for (size_t i = 0; i < modules->size(); ++i) {
    WRING_ASSIGN_OR_RETURN(Module m, ParseModule((*modules)[i], i, source));
    parsed.push_back(std::move(m));
  }
  std::vector<Parameter> params;
  if (const Json* p = JsonMember(document, "params")) {
    WRING_ASSIGN_OR_RETURN(params, ParseParams(*p, source));
  }
  auto tree = ModuleTree::Create(std::move(parsed), std::move(params));
  if (!tree.ok()) {
    return FieldError(source, "modules", tree.status().message());
  }
  ModelInput input;
  input.tree = *std::move(tree);
  input.source_kind = "fixture";
  if (const Json* config = JsonMember(document, "config")) {
    if (!config->is_object()) return FieldError(source, "config", "expected an object");
    input.config = *config;
  }
  input.architecture = JsonString(document, "architecture").value_or("");
  if (input.architecture.empty()) input.architecture = input.tree.root_class();
  return input;
}

}  // namespace mapping
}  // namespace wring
