// Typed reads of recipe values, with errors that point at the YAML source.
//
// Type coercions follow pydantic's lax mode where llm-compressor relies on
// them (a quoted "8" is a valid int, "yes" a valid bool), and reject what
// pydantic rejects (a number where a string is expected).
#ifndef WRING_MAPPING_RECIPE_INTERNAL_VALUE_READER_H_
#define WRING_MAPPING_RECIPE_INTERNAL_VALUE_READER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "mapping/recipe/internal/yaml_tree.h"
#include "mapping/proto/recipe.pb.h"

namespace wring {
namespace mapping {
namespace recipe_internal {

// "a.b" from "a" and "b"; "b" from "" and "b".
std::string JoinPath(absl::string_view path, absl::string_view key);

class ValueReader {
 public:
  ValueReader(const YamlDocument& doc, absl::string_view source_name)
      : doc_(doc), source_(source_name) {}

  const YamlNode& node(int id) const { return doc_.node(id); }
  const std::string& source() const { return source_; }

  // InvalidArgument "<source>:<line>:<col>: <path>: <message>".
  absl::Status Error(int id, absl::string_view path, absl::string_view message) const;

  wring::recipe::SourceLocation Location(int id) const;

  absl::StatusOr<std::string> String(int id, absl::string_view path) const;
  absl::StatusOr<int32_t> Int32(int id, absl::string_view path) const;
  absl::StatusOr<double> Float(int id, absl::string_view path) const;
  absl::StatusOr<bool> Bool(int id, absl::string_view path) const;
  // A list of strings; `allow_single_string` also takes `x` as `[x]` (fields
  // typed `str | list[str]` upstream).
  absl::StatusOr<std::vector<std::string>> StringList(int id, absl::string_view path,
                                                      bool allow_single_string) const;
  // Fails unless the node is a mapping; `example` shows the expected shape.
  absl::Status ExpectMapping(int id, absl::string_view path,
                             absl::string_view example) const;

  // Rejects keys of mapping `id` that are not in `allowed`, naming the closest
  // valid key. `owner` names the thing the keys belong to ("AWQModifier").
  absl::Status CheckKeys(int id, absl::string_view path, absl::string_view owner,
                         absl::Span<const std::string> allowed) const;

  // "an integer (4)", "a list", ...: what the user wrote, for messages.
  std::string Describe(int id) const;
  // The value as single-line YAML flow text that re-reads to the same value.
  std::string RenderFlow(int id) const;
  // Python's repr of the value as PyYAML would load it ('Both', True, [1, 2]).
  std::string PythonRepr(int id) const;
  // Python truthiness of the loaded value.
  bool Truthy(int id) const;

 private:
  // Spells one scalar; Render walks sequences and mappings around it.
  using ScalarSpelling = std::function<std::string(const YamlNode&)>;
  std::string Render(int id, const ScalarSpelling& spell) const;

  const YamlDocument& doc_;
  std::string source_;
};

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_RECIPE_INTERNAL_VALUE_READER_H_
