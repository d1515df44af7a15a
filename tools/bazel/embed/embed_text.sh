#!/bin/sh
# Compiles a text file into C++: embed_text.sh IN FUNCTION OUT_H OUT_CC INCLUDE
# writes OUT_H declaring `absl::string_view wring::embedded::FUNCTION()` and
# OUT_CC defining it to return IN's bytes (a raw string literal), so data
# files checked into the repository need no file system at run time (the
# WebAssembly build has none). INCLUDE is how OUT_CC includes OUT_H.
# Used by embed_text.bzl (Bazel) and CMakeLists.txt (CMake).
set -eu
in=$1 function=$2 out_h=$3 out_cc=$4 include=$5
delimiter='wring_embedded'
if grep -q ")$delimiter\"" "$in"; then
  echo "embed_text.sh: $in contains the raw-string delimiter )$delimiter\"" >&2
  exit 1
fi
guard=$(printf '%s' "WRING_EMBEDDED_$function" | tr 'a-z' 'A-Z')_H_
{
  printf '// Generated from %s by tools/bazel/embed/embed_text.sh; do not edit.\n' "$in"
  printf '#ifndef %s\n#define %s\n\n#include "absl/strings/string_view.h"\n\n' "$guard" "$guard"
  printf 'namespace wring {\nnamespace embedded {\n\n'
  printf '// The bytes of %s.\nabsl::string_view %s();\n\n' "$in" "$function"
  printf '}  // namespace embedded\n}  // namespace wring\n\n#endif  // %s\n' "$guard"
} >"$out_h"
{
  printf '// Generated from %s by tools/bazel/embed/embed_text.sh; do not edit.\n' "$in"
  printf '#include "%s"\n\nnamespace wring {\nnamespace embedded {\n\n' "$include"
  printf 'absl::string_view %s() {\n  static constexpr char kText[] = R"%s(' "$function" "$delimiter"
  cat "$in"
  printf ')%s";\n  return absl::string_view(kText, sizeof(kText) - 1);\n}\n\n' "$delimiter"
  printf '}  // namespace embedded\n}  // namespace wring\n'
} >"$out_cc"
