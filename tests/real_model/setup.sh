#!/usr/bin/env bash
# Set-up for //tests/real_model:real_model_test: the Debian FAQ from the
# pinned debian-faq package (downloaded and unpacked, not installed), and a
# small Python environment (requirements.txt) that fetches and converts the
# real model and cuts the FAQ into token windows (setup.py). Called by
# tools/setup.sh when WRING_REAL_MODEL=1 (after apt-get update); safe to
# rerun.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
home="${WRING_REAL_MODEL_HOME:-$here/../../.real_model}"
mkdir -p "$home"
faq_version=$(sed -nE 's/^FAQ_PACKAGE_VERSION = "(.*)"$/\1/p' "$here/real_model_layout.py")
if [ ! -d "$home/debian-faq" ]; then
  rm -f "$home"/debian-faq_*.deb
  (cd "$home" && apt-get download -qq "debian-faq=$faq_version" 2>/dev/null) || {
    echo "setup: cannot download the Debian package debian-faq=$faq_version" >&2
    exit 1
  }
  dpkg-deb -x "$home/debian-faq_${faq_version}_all.deb" "$home/debian-faq.part"
  mv "$home/debian-faq.part" "$home/debian-faq"
  rm -f "$home"/debian-faq_*.deb
fi
if [ ! -x "$home/venv/bin/python" ]; then /usr/bin/python3 -m venv "$home/venv"; fi
"$home/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$here/requirements.txt"
"$home/venv/bin/python" "$here/setup.py"
