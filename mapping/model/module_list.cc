#include "mapping/model/module_list.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "mapping/model/internal/module_builder.h"

namespace wring {
namespace mapping {
namespace {

using internal::ModuleBuilder;

constexpr size_t kMaxLineLength = 16384;
constexpr int64_t kMaxFeatures = int64_t{1} << 40;
constexpr absl::string_view kFormatHint = "expected NAME [CLASS [IN OUT]]";

absl::Status LineError(absl::string_view source, int line, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(source, ":", line, ": ", problem));
}

// RFC 3629 UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF): what JSON readers accept, so the names can reach the JSON report.
// Returns the offset of the first bad byte, or npos.
size_t FirstInvalidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // bounds of the second byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // past U+10FFFF
    } else {
      return i;
    }
    if (i + length > s.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(s[i + k]);
      const unsigned char lo = k == 1 ? low : 0x80, hi = k == 1 ? high : 0xBF;
      if (next < lo || next > hi) return i;
    }
    i += length;
  }
  return absl::string_view::npos;
}

bool IsPythonIdentifier(absl::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  if (!(absl::ascii_isalpha(s[0]) || s[0] == '_' || static_cast<unsigned char>(s[0]) >= 0x80)) {
    return false;
  }
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80)) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<int64_t> ParseFeatures(absl::string_view field, absl::string_view what,
                                      absl::string_view source, int line) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(field, &value) || value < 0 || value > kMaxFeatures) {
    return LineError(source, line,
                     absl::StrCat(what, " \"", field,
                                  "\" is not a non-negative integer feature count (", kFormatHint,
                                  ")"));
  }
  return value;
}

struct Inferred {
  int linear = 0, embedding = 0, module_list = 0, unknown = 0;
  int total() const { return linear + embedding + module_list + unknown; }
};

// Fills in the class of every module the list did not name one for.
Inferred InferClasses(ModuleBuilder& builder) {
  Inferred counts;
  for (int i = 1; i < builder.size(); ++i) {
    ModuleBuilder::Node& node = builder.node(i);
    if (!node.module.class_name.empty()) continue;
    absl::string_view last = internal::LastComponent(node.module.name);
    bool indexed_children = false;
    for (int child : node.children) {
      indexed_children |= internal::IsIndexComponent(
          internal::LastComponent(builder.node(child).module.name));
    }
    if (indexed_children) {
      node.module.class_name = "ModuleList";
      ++counts.module_list;
    } else if (node.children.empty() && internal::IsLinearName(last)) {
      node.module.class_name = "Linear";
      ++counts.linear;
    } else if (node.children.empty() && internal::IsEmbeddingName(last)) {
      node.module.class_name = "Embedding";
      ++counts.embedding;
    } else {
      node.module.class_name = "Module";
      ++counts.unknown;
    }
  }
  return counts;
}

}  // namespace

absl::StatusOr<ModelInput> ModelFromModuleList(absl::string_view text, absl::string_view source,
                                               absl::string_view architecture) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  ModuleBuilder builder;
  absl::flat_hash_map<int, int> listed_on_line;  // node -> line
  std::string root_class;
  int root_line = 0;
  int listed = 0, listed_after_descendant = 0, without_class = 0;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLineLength) {
      return LineError(source, line_number,
                       absl::StrCat("line is ", line.size(), " characters long (limit ",
                                    kMaxLineLength, "); this is not a module list (",
                                    kFormatHint, ")"));
    }
    const size_t bad = FirstInvalidUtf8(line);
    if (bad != absl::string_view::npos) {
      return LineError(source, line_number,
                       absl::StrCat("byte ", bad + 1, " (0x",
                                    absl::Hex(static_cast<unsigned char>(line[bad]), absl::kZeroPad2),
                                    ") is not valid UTF-8; save the list as UTF-8 text (",
                                    kFormatHint, ")"));
    }
    size_t hash = line.find('#');
    if (hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty()) continue;
    bool indented = line[0] == ' ' || line[0] == '\t';
    if (indented && fields.size() == 1) {
      if (root_line != 0) {
        return LineError(source, line_number,
                         absl::StrCat("a second root line (the first is line ", root_line,
                                      "); an indented line with a single field names the "
                                      "root's class"));
      }
      if (!IsPythonIdentifier(fields[0])) {
        return LineError(source, line_number,
                         absl::StrCat("root class \"", fields[0], "\" is not a Python identifier"));
      }
      root_class = std::string(fields[0]);
      root_line = line_number;
      continue;
    }
    if (fields.size() == 3 || fields.size() > 4) {
      return LineError(source, line_number,
                       absl::StrCat(kFormatHint, ", got ", fields.size(),
                                    " fields; IN and OUT come together, and module names "
                                    "cannot contain whitespace"));
    }
    absl::Status valid = internal::ValidateDottedName(fields[0]);
    if (!valid.ok()) return LineError(source, line_number, valid.message());
    int index = builder.Add(fields[0]);
    ModuleBuilder::Node& node = builder.node(index);
    if (node.listed) {
      return LineError(source, line_number,
                       absl::StrCat("module \"", fields[0], "\" is listed twice (first on line ",
                                    listed_on_line[index],
                                    "); every name must appear once"));
    }
    if (!node.children.empty()) ++listed_after_descendant;
    node.listed = true;
    listed_on_line[index] = line_number;
    ++listed;
    if (fields.size() >= 2) {
      if (!IsPythonIdentifier(fields[1])) {
        return LineError(source, line_number,
                         absl::StrCat("class \"", fields[1],
                                      "\" is not a Python identifier (", kFormatHint,
                                      "; module names cannot contain whitespace)"));
      }
      node.module.class_name = std::string(fields[1]);
    } else {
      ++without_class;
    }
    if (fields.size() == 4) {
      absl::StatusOr<int64_t> in = ParseFeatures(fields[2], "IN", source, line_number);
      if (!in.ok()) return in.status();
      absl::StatusOr<int64_t> out = ParseFeatures(fields[3], "OUT", source, line_number);
      if (!out.ok()) return out.status();
      node.module.in_features = *in;
      node.module.out_features = *out;
    }
  }
  if (listed == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": no modules listed; ", kFormatHint,
        " per line, e.g. \"model.layers.0.self_attn.q_proj Linear 4096 4096\""));
  }

  ModelInput input;
  input.source_kind = "module-list";
  int synthesized = builder.SynthesizedCount();
  if (synthesized > 0) {
    std::vector<std::string> names;
    for (int i = 1; i < builder.size(); ++i) {
      if (!builder.node(i).listed) names.push_back(builder.node(i).module.name);
    }
    input.notes.push_back(absl::StrCat(synthesized, " parent module(s) were not listed and were ",
                                       "added: ", internal::SampleList(names)));
  }
  if (listed_after_descendant > 0) {
    input.notes.push_back(absl::StrCat(
        listed_after_descendant,
        " module(s) were listed after their own children; placed before them, as "
        "named_modules() orders them"));
  }
  Inferred inferred = InferClasses(builder);
  if (inferred.total() > 0) {
    std::string why = without_class > 0 ? "no class column" : "not listed";
    input.notes.push_back(absl::StrCat(
        "class names inferred for ", inferred.total(), " modules (", why, "): ",
        inferred.linear, " *_proj and lm_head as Linear, ", inferred.embedding,
        " as Embedding, ", inferred.module_list, " with indexed children as ModuleList, ",
        inferred.unknown, " as plain Module (class-based targets will not match them)"));
  }

  ModuleBuilder::Node& root = builder.node(0);
  root.module.class_name = !root_class.empty() ? root_class : std::string(architecture);
  if (root.module.class_name.empty()) {
    input.notes.push_back(
        "the root's class (the architecture) is unknown: give config.json or start the list "
        "with an indented line naming it");
  }
  int linear_without_features = 0;
  for (int i = 0; i < builder.size(); ++i) {
    const Module& m = builder.node(i).module;
    if (m.class_name == "Linear" && (m.in_features < 0 || m.out_features < 0)) {
      ++linear_without_features;
    }
  }
  if (linear_without_features > 0) {
    input.notes.push_back(absl::StrCat(
        "in/out features unknown for ", linear_without_features,
        " Linear modules (no IN OUT columns): shape checks such as AWQ's v_proj -> o_proj "
        "compatibility cannot run for them"));
  }

  absl::StatusOr<ModuleTree> tree =
      ModuleTree::Create(builder.Flatten(ModuleBuilder::ChildOrder::kFirstAppearance));
  if (!tree.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", tree.status().message()));
  input.tree = *std::move(tree);
  input.architecture = !architecture.empty() ? std::string(architecture) : input.tree.root_class();
  return input;
}

}  // namespace mapping
}  // namespace wring
