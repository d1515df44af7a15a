#!/usr/bin/env bash
# Runs the page's browser tests: Debian's headless Chromium, driven by
# Playwright from .venv, against the built site served from 127.0.0.1.
#
#   web/tests/run_browser_tests.sh [pytest args...]
#
# Outside Bazel it builds //web:site and the mapping fixtures first; as the
# //web:browser_test target it takes both from its runfiles. Needs
# `bash tools/setup.sh` (chromium, .venv with tools/python-requirements.txt).
# Ends with "N passed, N failed"; exits non-zero on any failure.
# Screenshots: $TEST_UNDECLARED_OUTPUTS_DIR, else $WRING_WEB_ARTIFACTS, else
# /tmp/wring-web-artifacts.
set -uo pipefail
export PYTHONDONTWRITEBYTECODE=1

summary_fail() {
  echo "$1" >&2
  echo "0 passed, 1 failed"
  exit 1
}

if [ -n "${TEST_SRCDIR:-}" ]; then
  runfiles="$TEST_SRCDIR/${TEST_WORKSPACE:-wring}"
  tests_dir="$runfiles/web/tests"
  export WRING_SITE_DIR="$runfiles/web/site"
  export WRING_FIXTURES_DIR="$runfiles/tests/fixtures/mapping"
  # The virtual environment is not a Bazel input: find the checkout through
  # the source file's symlink.
  repo="$(cd "$(dirname "$(readlink -f "$tests_dir/browser_test.py")")/../.." && pwd)"
  tmp="${TEST_TMPDIR:-$(mktemp -d)}"
else
  repo="$(cd "$(dirname "$0")/../.." && pwd)"
  tests_dir="$repo/web/tests"
  cd "$repo" || exit 1
  bazel build //web:site //tests/fixtures/mapping:all || summary_fail "run_browser_tests: bazel build failed"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
fi

python="$repo/.venv/bin/python"
[ -x "$python" ] || summary_fail "run_browser_tests: no $python; run: bash tools/setup.sh"
[ -x "${WRING_CHROMIUM:-/usr/bin/chromium}" ] || summary_fail "run_browser_tests: no chromium; run: bash tools/setup.sh"

cd "$tests_dir" || exit 1
"$python" -m pytest -p no:cacheprovider -q --basetemp="$tmp/pytest" --junitxml="$tmp/results.xml" \
  browser_test.py "$@"
status=$?
"$python" - "$tmp/results.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("0 passed, 1 failed")
    sys.exit(0)
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(f"{total - failed - skipped} passed, {failed} failed")
PY
exit $status
