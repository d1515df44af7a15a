#!/usr/bin/env bash
# Runs every test (`bazel test //...`), checks that no two Bazel packages
# depend on each other (tools/check_package_cycles.py), checks that two clean
# builds of the mapping core's binary are bit-identical
# (tools/check_reproducible.sh), and ends with one line counting test cases:
# "N passed, N failed". Exit status 0 only if everything passed.
set -uo pipefail
cd "$(dirname "$0")/.."

bazel test //... --test_output=errors "$@"
bazel_status=$?

passed=0
failed=0
# Every test target leaves a JUnit XML; count the cases inside: each
# <testsuite> element carries its own tests/failures/errors (GoogleTest writes
# one per test suite, Bazel one per shell test).
attr() { sed -nE "s/.* $1=\"([0-9]+)\".*/\1/p" <<<"$2"; }
while IFS= read -r xml; do
  while IFS= read -r suite; do
    tests=$(attr tests "$suite")
    failures=$(attr failures "$suite")
    errors=$(attr errors "$suite")
    passed=$((passed + ${tests:-0} - ${failures:-0} - ${errors:-0}))
    failed=$((failed + ${failures:-0} + ${errors:-0}))
  done < <(grep -o '<testsuite [^>]*>' "$xml" 2>/dev/null)
done < <(bazel query 'tests(//...)' 2>/dev/null |
           sed -E 's|^//([^:]*):(.*)$|bazel-testlogs/\1/\2/test.xml|')
# Targets that failed to build or timed out leave no cases: count each once.
if [ "$bazel_status" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi

if python3 tools/check_package_cycles.py; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

if tools/check_reproducible.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
