#!/usr/bin/env bash
# reference_versions.h is generated from tools/reference/requirements.txt:
# fails when a pin was bumped without rerunning tools/reference/generate.py.
set -euo pipefail
header=$1 requirements=$2
status=0
check() {  # check CONSTANT DISTRIBUTION
  local in_header pinned
  in_header=$(sed -nE "s/.*$1\[\] = \"([^\"]*)\";/\1/p" "$header")
  pinned=$(sed -nE "s/^$2==([^[:space:]#]*).*/\1/p" "$requirements")
  if [ -z "$pinned" ] || [ "$in_header" != "$pinned" ]; then
    echo "FAIL: $1 is '$in_header' but $requirements pins $2=='$pinned';" \
         "rerun tools/reference/generate.py" >&2
    status=1
  else
    echo "ok: $1 = $pinned"
  fi
}
check kLlmCompressorVersion llmcompressor
check kCompressedTensorsVersion compressed-tensors
check kTransformersVersion transformers
exit $status
