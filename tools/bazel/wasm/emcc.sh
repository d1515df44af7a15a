#!/bin/sh
# Runs Debian's emcc inside Bazel's hermetic action environment: emcc's
# JavaScript optimizer needs Debian's node modules (acorn), which Node does
# not look for by default, and the wrapper in /usr/bin picks `python3` from
# PATH.
export NODE_PATH=/usr/share/nodejs
export EMSDK_PYTHON=/usr/bin/python3
exec /usr/bin/emcc "$@"
