"""Forwards the C++ rules to Bazel's native ones.

Debian's bazel-rules-cc (0.0.4) needs a newer Bazel than Debian's
bazel-bootstrap (4.2.3), and nothing may be downloaded, so BUILD files load
from this shim to keep the conventional `@rules_cc//cc:defs.bzl` label.
"""

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)
