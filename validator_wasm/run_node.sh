#!/bin/sh
# Runs a Node script (the first argument) from a Bazel test or binary.
exec /usr/bin/node "$@"
