#include "mapping/recipe/internal/yaml_tree.h"

#include <yaml.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mapping/base/status_macros.h"

namespace wring {
namespace mapping {
namespace recipe_internal {
namespace {

constexpr char kTagStr[] = "tag:yaml.org,2002:str";
constexpr char kTagInt[] = "tag:yaml.org,2002:int";
constexpr char kTagFloat[] = "tag:yaml.org,2002:float";
constexpr char kTagBool[] = "tag:yaml.org,2002:bool";
constexpr char kTagNull[] = "tag:yaml.org,2002:null";
constexpr char kTagSeq[] = "tag:yaml.org,2002:seq";
constexpr char kTagMap[] = "tag:yaml.org,2002:map";

// Owns a libyaml parser; frees it on every exit path.
class Parser {
 public:
  explicit Parser(absl::string_view text) {
    ok_ = yaml_parser_initialize(&parser_) != 0;
    if (ok_) {
      yaml_parser_set_input_string(
          &parser_, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    }
  }
  ~Parser() {
    if (ok_) yaml_parser_delete(&parser_);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
  bool ok() const { return ok_; }
  yaml_parser_t* get() { return &parser_; }

 private:
  yaml_parser_t parser_;
  bool ok_ = false;
};

class Event {
 public:
  Event() = default;
  ~Event() {
    if (filled_) yaml_event_delete(&event_);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  bool Next(yaml_parser_t* parser) {
    if (filled_) yaml_event_delete(&event_);
    filled_ = yaml_parser_parse(parser, &event_) != 0;
    return filled_;
  }
  const yaml_event_t& operator*() const { return event_; }
  const yaml_event_t* operator->() const { return &event_; }

 private:
  yaml_event_t event_;
  bool filled_ = false;
};

std::string CString(const yaml_char_t* s) {
  return s == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(s));
}

}  // namespace

class YamlTreeBuilder {
 public:
  YamlTreeBuilder(absl::string_view text, absl::string_view source, bool json_numbers)
      : text_(text), source_(source), json_numbers_(json_numbers) {}

  absl::StatusOr<YamlDocument> Build() {
    Parser parser(text_);
    if (!parser.ok()) return absl::ResourceExhaustedError("libyaml: out of memory");
    Event event;
    int documents = 0;
    while (true) {
      if (!event.Next(parser.get())) return LibyamlError(*parser.get());
      const yaml_mark_t& mark = event->start_mark;
      const int line = static_cast<int>(mark.line) + 1;
      const int column = static_cast<int>(mark.column) + 1;
      switch (event->type) {
        case YAML_STREAM_END_EVENT:
          return std::move(doc_);
        case YAML_DOCUMENT_START_EVENT:
          if (++documents > 1) {
            return Error(line, column,
                         "expected a single document in the stream, but found "
                         "another document; a recipe is one YAML document "
                         "(remove the extra '---')");
          }
          break;
        case YAML_SCALAR_EVENT: {
          const auto& s = event->data.scalar;
          YamlNode node;
          node.line = line;
          node.column = column;
          node.text.assign(reinterpret_cast<const char*>(s.value), s.length);
          WRING_RETURN_IF_ERROR(TypeScalar(CString(s.tag), s.style, node));
          const int id = AddNode(std::move(node), 1, 1);
          const std::string anchor = CString(s.anchor);
          WRING_RETURN_IF_ERROR(DefineAnchor(anchor, id, line, column));
          if (!anchor.empty()) anchors_[anchor].complete = true;
          WRING_RETURN_IF_ERROR(Attach(id, line, column));
          break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
          const bool is_map = event->type == YAML_MAPPING_START_EVENT;
          const std::string tag = CString(is_map ? event->data.mapping_start.tag
                                                 : event->data.sequence_start.tag);
          if (!tag.empty() && tag != "!" && tag != (is_map ? kTagMap : kTagSeq)) {
            return Error(line, column, UnsupportedTag(tag));
          }
          if (static_cast<int>(open_.size()) + 1 > kMaxYamlDepth) {
            return Error(line, column,
                         absl::StrCat("YAML nested deeper than ", kMaxYamlDepth,
                                      " levels; a recipe needs fewer than 10, so "
                                      "flatten this value"));
          }
          YamlNode node;
          node.kind = is_map ? YamlKind::kMapping : YamlKind::kSequence;
          node.line = line;
          node.column = column;
          const int id = AddNode(std::move(node), 1, 1);
          const std::string anchor = CString(is_map ? event->data.mapping_start.anchor
                                                    : event->data.sequence_start.anchor);
          WRING_RETURN_IF_ERROR(DefineAnchor(anchor, id, line, column));
          open_.push_back(Open{id, anchor});
          break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
          Open closed = std::move(open_.back());
          open_.pop_back();
          expanded_[closed.id] = closed.expanded;
          height_[closed.id] = closed.height;
          if (!closed.anchor.empty()) anchors_[closed.anchor].complete = true;
          const YamlNode& n = doc_.nodes_[closed.id];
          WRING_RETURN_IF_ERROR(Attach(closed.id, n.line, n.column));
          break;
        }
        case YAML_ALIAS_EVENT: {
          const std::string name = CString(event->data.alias.anchor);
          auto it = anchors_.find(name);
          if (it == anchors_.end()) {
            return Error(line, column,
                         absl::StrCat("found undefined alias '", name,
                                      "'; define it with '&", name,
                                      "' before using '*", name, "'"));
          }
          if (!it->second.complete) {
            return Error(line, column,
                         absl::StrCat("alias '*", name,
                                      "' is used inside the node it names; "
                                      "recursive YAML cannot be a recipe"));
          }
          WRING_RETURN_IF_ERROR(Attach(it->second.id, line, column));
          break;
        }
        default:
          break;
      }
    }
  }

 private:
  struct Open {
    int id;
    std::string anchor;
    int pending_key = -1;
    int64_t expanded = 1;
    int height = 1;
    // Canonical key -> id of its first occurrence, for duplicate detection.
    absl::flat_hash_map<std::string, int> keys;
  };
  struct Anchor {
    int id;
    int line;
    int column;
    bool complete = false;
  };

  int AddNode(YamlNode node, int64_t expanded, int height) {
    doc_.nodes_.push_back(std::move(node));
    expanded_.push_back(expanded);
    height_.push_back(height);
    return static_cast<int>(doc_.nodes_.size()) - 1;
  }

  absl::Status DefineAnchor(const std::string& name, int id, int line, int column) {
    if (name.empty()) return absl::OkStatus();
    auto [it, inserted] = anchors_.try_emplace(name, Anchor{id, line, column});
    if (!inserted) {
      // PyYAML's composer rejects a reused anchor name the same way.
      return Error(line, column,
                   absl::StrCat("found duplicate anchor '", name,
                                "'; first occurrence at line ", it->second.line, ":",
                                it->second.column, ". Give each anchor a unique name"));
    }
    return absl::OkStatus();
  }

  absl::Status TypeScalar(const std::string& tag, yaml_scalar_style_t style,
                          YamlNode& node) {
    const bool plain = style == YAML_PLAIN_SCALAR_STYLE;
    if (tag.empty()) {
      if (plain) {
        ResolvePlainScalar(node, json_numbers_);
      } else {
        node.type = ScalarType::kString;
      }
      return absl::OkStatus();
    }
    if (tag == "!" || tag == kTagStr) {
      node.type = ScalarType::kString;
      return absl::OkStatus();
    }
    ScalarType wanted;
    if (tag == kTagInt) {
      wanted = ScalarType::kInt;
    } else if (tag == kTagFloat) {
      wanted = ScalarType::kFloat;
    } else if (tag == kTagBool) {
      wanted = ScalarType::kBool;
    } else if (tag == kTagNull) {
      wanted = ScalarType::kNull;
    } else {
      return Error(node.line, node.column, UnsupportedTag(tag));
    }
    ResolvePlainScalar(node, /*json_numbers=*/false);
    if (node.type == ScalarType::kInt && wanted == ScalarType::kFloat) {
      node.type = ScalarType::kFloat;
      node.float_value = static_cast<double>(node.int_value);
    }
    if (node.type != wanted) {
      return Error(node.line, node.column,
                   absl::StrCat("'", node.text, "' is not a valid value for the tag ",
                                tag, "; remove the tag or fix the value"));
    }
    return absl::OkStatus();
  }

  static std::string UnsupportedTag(const std::string& tag) {
    return absl::StrCat("unsupported YAML tag '", tag,
                        "': recipes are loaded with safe YAML, which has no "
                        "constructor for it; remove the tag");
  }

  static std::string CanonicalKey(const YamlNode& key) {
    switch (key.type) {
      case ScalarType::kNull:
        return "n";
      case ScalarType::kBool:
        return key.bool_value ? "i1" : "i0";  // Python: True == 1
      case ScalarType::kInt:
        return key.int_in_range ? absl::StrCat("i", key.int_value)
                                : absl::StrCat("I", key.text);
      case ScalarType::kFloat:
        // Range first: converting a float outside int64 (or NaN) is undefined.
        if (std::abs(key.float_value) < 9e18 &&
            key.float_value == static_cast<double>(static_cast<int64_t>(key.float_value))) {
          return absl::StrCat("i", static_cast<int64_t>(key.float_value));
        }
        return absl::StrCat("f", key.float_value);
      case ScalarType::kString:
        return absl::StrCat("s", key.text);
    }
    return "";
  }

  // Adds node `id` (seen at line:column) to the innermost open collection.
  absl::Status Attach(int id, int line, int column) {
    if (open_.empty()) {
      doc_.root_ = id;
      return absl::OkStatus();
    }
    Open& parent = open_.back();
    YamlNode& parent_node = doc_.nodes_[parent.id];
    const YamlNode& child = doc_.nodes_[id];
    if (parent_node.kind == YamlKind::kMapping && parent.pending_key < 0) {
      if (child.kind != YamlKind::kScalar) {
        return Error(line, column,
                     "a mapping key must be a plain value, not a list or mapping");
      }
      if (child.type == ScalarType::kString && child.text == "<<") {
        return Error(line, column,
                     "YAML merge keys ('<<') are not supported in recipes; write "
                     "the merged keys out in full");
      }
      auto [it, inserted] = parent.keys.try_emplace(CanonicalKey(child), id);
      if (!inserted) {
        const YamlNode& first = doc_.nodes_[it->second];
        std::string hint = "remove one of them";
        if (child.text.size() > 8 &&
            child.text.compare(child.text.size() - 8, 8, "Modifier") == 0) {
          hint =
              "a '<group>_modifiers' mapping holds each modifier type once; put "
              "the second one under another group key (e.g. 'quant_2_modifiers:') "
              "or another stage";
        }
        std::string path = Path();
        return Error(line, column,
                     absl::StrCat(path.empty() ? "" : absl::StrCat(path, ": "),
                                  "duplicate key '", child.text,
                                  "' (first at line ", first.line, ":", first.column,
                                  "); PyYAML would silently keep only the last "
                                  "value, so wring rejects it: ",
                                  hint));
      }
      parent.pending_key = id;
    } else if (parent_node.kind == YamlKind::kMapping) {
      parent_node.entries.emplace_back(parent.pending_key, id);
      parent.pending_key = -1;
    } else {
      parent_node.items.push_back(id);
    }
    parent.expanded += expanded_[id];
    parent.height = std::max(parent.height, 1 + height_[id]);
    if (parent.expanded > kMaxYamlExpandedNodes) {
      return Error(line, column,
                   absl::StrCat("YAML aliases expand this document to more than ",
                                kMaxYamlExpandedNodes,
                                " values (an alias bomb?); a recipe has a few "
                                "hundred, so write the values out instead of "
                                "nesting aliases"));
    }
    if (static_cast<int>(open_.size()) - 1 + parent.height > kMaxYamlDepth) {
      return Error(line, column,
                   absl::StrCat("YAML nested deeper than ", kMaxYamlDepth,
                                " levels once aliases are expanded; a recipe needs "
                                "fewer than 10, so flatten this value"));
    }
    return absl::OkStatus();
  }

  // Dotted path of the keys being read, e.g. "quant_stage.quant_modifiers".
  std::string Path() const {
    std::string path;
    for (const Open& open : open_) {
      const YamlNode& node = doc_.nodes_[open.id];
      if (node.kind == YamlKind::kSequence) {
        absl::StrAppend(&path, "[", node.items.size(), "]");
      } else if (open.pending_key >= 0) {
        absl::StrAppend(&path, path.empty() ? "" : ".",
                        doc_.nodes_[open.pending_key].text);
      }
    }
    return path;
  }

  absl::Status LibyamlError(const yaml_parser_t& parser) {
    int line = static_cast<int>(parser.problem_mark.line) + 1;
    int column = static_cast<int>(parser.problem_mark.column) + 1;
    if (parser.error == YAML_MEMORY_ERROR) {
      return absl::ResourceExhaustedError(
          absl::StrCat(source_, ": libyaml ran out of memory"));
    }
    const std::string problem =
        parser.problem != nullptr ? parser.problem : "unknown libyaml error";
    if (parser.error == YAML_READER_ERROR) {
      // Reader errors carry a byte offset, not a mark.
      line = 1;
      column = 1;
      const size_t end = std::min(parser.problem_offset, text_.size());
      for (size_t i = 0; i < end; ++i) {
        if (text_[i] == '\n') {
          ++line;
          column = 1;
        } else {
          ++column;
        }
      }
      return Error(line, column,
                   absl::StrCat("malformed YAML: ", problem, " (byte value ",
                                parser.problem_value,
                                "); save the recipe as UTF-8 text without "
                                "control characters"));
    }
    std::string message = absl::StrCat("malformed YAML: ", problem);
    if (parser.context != nullptr) {
      absl::StrAppend(&message, " (", parser.context, " at line ",
                      parser.context_mark.line + 1, ":", parser.context_mark.column + 1,
                      ")");
    }
    const size_t offset = parser.problem_mark.index;
    if (offset < text_.size() && text_[offset] == '\t') {
      absl::StrAppend(&message, "; YAML does not allow tabs here: indent with spaces");
    } else {
      absl::StrAppend(&message,
                      "; check the indentation and quoting on this line (values "
                      "containing ': ' or starting with '*', '&', '!', '[' or '{' "
                      "must be quoted)");
    }
    return Error(line, column, message);
  }

  absl::Status Error(int line, int column, absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ":", line, ":", column, ": ", message));
  }

  absl::string_view text_;
  std::string source_;
  bool json_numbers_;
  YamlDocument doc_;
  std::vector<int64_t> expanded_;
  std::vector<int> height_;
  std::vector<Open> open_;
  absl::flat_hash_map<std::string, Anchor> anchors_;
};

absl::StatusOr<YamlDocument> YamlDocument::Parse(absl::string_view text,
                                                 absl::string_view source_name,
                                                 bool json_numbers) {
  return YamlTreeBuilder(text, source_name, json_numbers).Build();
}

}  // namespace recipe_internal
}  // namespace mapping
}  // namespace wring
