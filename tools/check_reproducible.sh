#!/usr/bin/env bash
# Builds the mapping core's native binary (//validator_wasm:check_text, the
# `wring check` logic that also ships as WebAssembly) in a second, fresh
# Bazel output base and checks that it is bit-identical to the one in the
# main output base: builds depend on nothing but the repository and the
# pinned Debian packages. (//:wring itself links LibTorch; rebuilding all of
# it from scratch a second time doubled the CI's build time.)
set -euo pipefail
cd "$(dirname "$0")/.."
target=//validator_wasm:check_text
binary=validator_wasm/check_text
bazel build "$target" >/dev/null 2>&1
first=$(sha256sum "bazel-bin/$binary" | cut -d' ' -f1)
second_base=$(mktemp -d /tmp/wring-repro.XXXXXX)
trap 'bazel --output_base="$second_base" shutdown >/dev/null 2>&1 || true; rm -rf "$second_base"' EXIT
bazel --output_base="$second_base" build "$target" >/dev/null 2>&1
second=$(sha256sum "$(bazel --output_base="$second_base" info bazel-bin 2>/dev/null)/$binary" | cut -d' ' -f1)
if [ "$first" != "$second" ]; then
  echo "check_reproducible: FAILED: two clean builds of $target differ ($first vs $second)"
  exit 1
fi
echo "check_reproducible: two clean builds of $target are identical ($first)"
