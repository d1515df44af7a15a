#!/usr/bin/env bash
# Runs real_model_test.py with the Python environment tests/real_model/setup.sh
# made (.real_model/venv: numpy, safetensors) against the wring binary in
# the runfiles. The model, its data and that environment are not Bazel
# inputs (hundreds of megabytes made at set-up): they are found through the
# checkout, by following the test source's symlink.
set -uo pipefail
runfiles="$TEST_SRCDIR/${TEST_WORKSPACE:-wring}"
test_py="$(readlink -f "$runfiles/tests/real_model/real_model_test.py")"
repo="$(cd "$(dirname "$test_py")/../.." && pwd)"
export WRING_REAL_MODEL_HOME="${WRING_REAL_MODEL_HOME:-$repo/.real_model}"
export WRING="$runfiles/wring"
python="$WRING_REAL_MODEL_HOME/venv/bin/python"
if [ ! -x "$python" ]; then
  echo "$python is missing: run \`bash tools/setup.sh\` (it runs tests/real_model/setup.sh)" >&2
  exit 1
fi
exec "$python" "$test_py"
