#!/usr/bin/env bash
# Run on a machine with Debian 12's archive (this project's CPU machines):
# gathers what tools/gpu_check.sh needs on a GPU host that has PyTorch with
# CUDA, nvcc and CMake but no Bazel and no network, into .gpu/ (git-ignored):
#   .gpu/debs/  the -dev packages the CMake build links (Abseil, RE2,
#               Protobuf and protoc, libyaml, nlohmann-json, GoogleTest),
#               at the versions tools/debian-pins.txt pins.
# Carry .gpu/ with the working tree to the GPU host, then run
# tools/gpu_check.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each package, and the pinned -dev package whose version it shares.
packages=(
  libabsl-dev:libabsl-dev libabsl20220623:libabsl-dev
  libre2-dev:libre2-dev libre2-9:libre2-dev
  libprotobuf-dev:libprotobuf-dev libprotobuf32:libprotobuf-dev libprotoc32:libprotobuf-dev
  protobuf-compiler:protobuf-compiler
  libyaml-dev:libyaml-dev libyaml-0-2:libyaml-dev
  nlohmann-json3-dev:nlohmann-json3-dev
  libgtest-dev:libgtest-dev libgmock-dev:libgmock-dev
)
rm -rf .gpu/debs && mkdir -p .gpu/debs
args=()
for entry in "${packages[@]}"; do
  name=${entry%%:*}
  version=$(awk -v p="${entry##*:}" '$1 == p { print $2 }' tools/debian-pins.txt)
  if [ -n "$version" ]; then args+=("$name=$version"); else args+=("$name"); fi
done
(cd .gpu/debs && apt-get download -q "${args[@]}")
echo "gpu_prepare: $(ls .gpu/debs | wc -l) packages, $(du -sh .gpu | cut -f1) in .gpu/"
