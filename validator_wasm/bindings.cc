// Embind bindings of the browser validator: validator_api.h as JavaScript
// functions on the module object (check, checkSafetensors, defaultRecipe,
// knownArchitectures, version). Strings cross as UTF-8.
#include <string>

#include <emscripten/bind.h>

#include "validator_wasm/validator_api.h"

namespace {

namespace api = wring::mapping::validator;

std::string Check(const std::string& model, const std::string& config,
                  const std::string& recipe) {
  return api::Check(model, config, recipe);
}

std::string CheckSafetensors(const std::string& headers, const std::string& config,
                             const std::string& recipe) {
  return api::CheckSafetensors(headers, config, recipe);
}

// Timings of a check (JSON), for benchmarks.
std::string ProfileCheck(const std::string& model, const std::string& config,
                         const std::string& recipe) {
  return api::CheckTimingsToJson(api::ProfileCheck(model, config, recipe));
}

}  // namespace

EMSCRIPTEN_BINDINGS(wring_validator) {
  emscripten::function("check", &Check);
  emscripten::function("checkSafetensors", &CheckSafetensors);
  emscripten::function("profileCheck", &ProfileCheck);
  emscripten::function("defaultRecipe", &api::DefaultRecipe);
  emscripten::function("knownArchitectures", &api::KnownArchitecturesJson);
  emscripten::function("version", &api::Version);
}
