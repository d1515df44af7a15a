#!/usr/bin/env bash
# Runs every test (`bazel test //...`); the mapping core's tests and every
# fuzz target's corpus again under ASan + UBSan (clang 14, `--config=fuzz`,
# which is `--config=asan` plus libFuzzer's instrumentation, so one build
# serves both); each fuzz target for WRING_FUZZ_SECONDS (default 10)
# seconds (tools/fuzz.sh); checks that no two Bazel packages depend on each
# other (tools/check_package_cycles.py) and that two clean builds of the
# mapping core's binary are bit-identical (tools/check_reproducible.sh). Ends
# with one line counting test cases: "N passed, N failed". Exit status 0 only
# if everything passed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
# Cases that skipped themselves (GTEST_SKIP: no AMX tiles here, say) are
# neither: they are reported on a line of their own.
skipped_cases=0

# Adds the cases of the tests `query` names, from their JUnit XML under
# `testlogs`: each <testsuite> element carries its own tests/failures/errors/skipped
# (GoogleTest writes one per test suite, Bazel one per other test). A run
# whose targets failed to build or timed out leaves no cases: it counts once.
attr() { sed -nE "s/.* $1=\"([0-9]+)\".*/\1/p" <<<"$2"; }
count_cases() {
  local testlogs=$1 query=$2 bazel_status=$3 run_failed=0
  while IFS= read -r xml; do
    while IFS= read -r suite; do
      tests=$(attr tests "$suite")
      failures=$(attr failures "$suite")
      errors=$(attr errors "$suite")
      skipped=$(attr skipped "$suite")
      passed=$((passed + ${tests:-0} - ${failures:-0} - ${errors:-0} - ${skipped:-0}))
      skipped_cases=$((skipped_cases + ${skipped:-0}))
      run_failed=$((run_failed + ${failures:-0} + ${errors:-0}))
    done < <(grep -o '<testsuite [^>]*>' "$xml" 2>/dev/null)
  done < <(bazel query "$query" 2>/dev/null |
             sed -E "s|^//([^:]*):(.*)$|$testlogs/\1/\2/test.xml|")
  if [ "$bazel_status" != 0 ] && [ "$run_failed" = 0 ]; then run_failed=1; fi
  failed=$((failed + run_failed))
}

bazel test //... --test_output=errors "$@"
count_cases "$(bazel info bazel-testlogs 2>/dev/null)" 'tests(//...)' $?

sanitized='//mapping/... + //fuzz/...'
bazel test --config=fuzz --build_tests_only --test_output=errors "$@" -- //mapping/... //fuzz/...
count_cases "$(bazel info --config=fuzz bazel-testlogs 2>/dev/null)" "tests($sanitized)" $?

fuzz_log=$(mktemp)
tools/fuzz.sh --seconds "${WRING_FUZZ_SECONDS:-10}" | tee "$fuzz_log"
fuzz_passed=$(sed -nE 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\1/p' "$fuzz_log")
fuzz_failed=$(sed -nE 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\2/p' "$fuzz_log")
if [ -z "$fuzz_passed" ]; then fuzz_passed=0; fuzz_failed=1; fi
passed=$((passed + fuzz_passed))
failed=$((failed + fuzz_failed))
rm -f "$fuzz_log"

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

if [ "$skipped_cases" != 0 ]; then echo "$skipped_cases skipped (not counted)"; fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
