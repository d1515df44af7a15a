#!/usr/bin/env bash
# Installs the exact Debian packages wring builds against (tools/debian-pins.txt).
# Idempotent: packages already at the pinned version are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
want=()
while read -r pkg ver; do
  case "$pkg" in ''|'#'*) continue ;; esac
  have=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || true)
  if [ "$have" != "$ver" ]; then want+=("$pkg=$ver"); fi
done < tools/debian-pins.txt
if [ ${#want[@]} -eq 0 ]; then
  echo "setup: all pinned Debian packages present"
  exit 0
fi
echo "setup: installing ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends --allow-downgrades "${want[@]}"
