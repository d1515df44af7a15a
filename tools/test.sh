#!/usr/bin/env bash
# Runs every test (`bazel test //...`), checks that two clean builds of the
# `wring` binary are bit-identical, and ends with one line counting test
# cases: "N passed, N failed". Exit status 0 only if everything passed.
set -uo pipefail
cd "$(dirname "$0")/.."

bazel test //... --test_output=errors "$@"
bazel_status=$?

passed=0
failed=0
# Every test target leaves a JUnit XML; count the cases inside (GoogleTest
# writes one per TEST, shell tests one per target).
while IFS= read -r xml; do
  read -r tests failures errors < <(
    grep -m1 -o '<testsuites[^>]*>' "$xml" |
      sed -E 's/.* tests="([0-9]+)".* failures="([0-9]+)".* errors="([0-9]+)".*/\1 \2 \3/')
  if [ -z "${tests:-}" ]; then continue; fi
  passed=$((passed + tests - failures - errors))
  failed=$((failed + failures + errors))
done < <(find -L bazel-testlogs/ -name test.xml 2>/dev/null)
# Targets that failed to build or timed out leave no cases: count each once.
if [ "$bazel_status" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi

if tools/check_reproducible.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
