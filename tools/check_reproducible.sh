#!/usr/bin/env bash
# Builds //:wring in a second, fresh Bazel output base and checks that the
# binary is bit-identical to the one in the main output base: builds depend
# on nothing but the repository and the pinned Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
bazel build //:wring >/dev/null 2>&1
first=$(sha256sum bazel-bin/wring | cut -d' ' -f1)
second_base=$(mktemp -d /tmp/wring-repro.XXXXXX)
trap 'bazel --output_base="$second_base" shutdown >/dev/null 2>&1 || true; rm -rf "$second_base"' EXIT
bazel --output_base="$second_base" build //:wring >/dev/null 2>&1
second=$(sha256sum "$(bazel --output_base="$second_base" info bazel-bin 2>/dev/null)/wring" | cut -d' ' -f1)
if [ "$first" != "$second" ]; then
  echo "check_reproducible: FAILED: two clean builds of //:wring differ ($first vs $second)"
  exit 1
fi
echo "check_reproducible: two clean builds of //:wring are identical ($first)"
