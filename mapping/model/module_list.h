// Reads a model's module structure from a plain text list, for users who can
// print `model.named_modules()` but have no checkpoint files at hand.
//
// Format (UTF-8 text, one module per line):
//
//   NAME [CLASS [IN OUT]]
//
// - NAME: the dotted name as named_modules() yields it
//   ("model.layers.0.self_attn.q_proj"). Components are non-empty; no
//   whitespace or control characters; at most 4096 characters.
// - CLASS (optional): type(module).__name__, a Python identifier.
// - IN OUT (optional, only after CLASS): in_features and out_features of a
//   Linear layer, non-negative integers.
// - Fields are separated by spaces or tabs. `#` starts a comment (whole line
//   or trailing); blank lines are ignored; CRLF line ends and a UTF-8 BOM are
//   accepted.
// - The root module "" is implicit. A line that starts with whitespace and
//   holds one field names the root's class: that is what
//   `for n, m in model.named_modules(): print(n, type(m).__name__)` prints
//   for the root. Otherwise the root's class is the `architecture` argument.
//
// Lines are kept in their order; a module listed after one of its
// descendants, or never listed, is placed where it is first implied. Missing
// parents are synthesized. When the CLASS column is absent, classes are
// inferred conservatively, and every inference is recorded in notes:
// - a module whose children are indices ("0", "1", ...) -> ModuleList;
// - a leaf named `*_proj` or `lm_head` -> Linear (features unknown);
// - a leaf named embed_tokens / wte / wpe / word_embeddings /
//   embed_positions -> Embedding;
// - anything else -> "Module" (no class-based target matches it).
// Routers (`mlp.gate`) are deliberately not guessed: in transformers 5 they
// are not Linear in every model.
#ifndef WRING_MAPPING_MODEL_MODULE_LIST_H_
#define WRING_MAPPING_MODEL_MODULE_LIST_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mapping/model/model_input.h"

namespace wring {
namespace mapping {

// Parses `text`; `source` names the file in error messages ("FILE:LINE: ...").
// `architecture` (e.g. config.architectures[0], or "" when unknown) is the
// root's class unless the list names one. source_kind is "module-list".
absl::StatusOr<ModelInput> ModelFromModuleList(absl::string_view text, absl::string_view source,
                                               absl::string_view architecture = "");

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_MODEL_MODULE_LIST_H_
