"""wring_fuzz_test: one libFuzzer target that is also its corpus' regression test.

`wring_fuzz_test(name = "x_fuzzer", ...)` defines the cc_test `x_fuzzer`,
whose arguments are every file of its corpus: fuzz/corpus/x_fuzzer/ (seeds
and every crash ever found) plus `seeds` (test data elsewhere in the
repository). Run by `bazel test`, it replays them:
  - default build (gcc): through replay_main.cc, no sanitizers;
  - `--config=fuzz` (clang, ASan + UBSan, libFuzzer): libFuzzer runs each
    file once, so a crash, leak or undefined behaviour fails the test.
Built with `--config=fuzz`, the same binary is the fuzzer (tools/fuzz.sh).
"""

load("@rules_cc//cc:defs.bzl", "cc_test")

def wring_fuzz_test(name, srcs, deps = [], seeds = [], size = "small", **kwargs):
    native.filegroup(
        name = name + "_corpus",
        srcs = native.glob(["corpus/%s/**" % name]) + seeds,
    )
    cc_test(
        name = name,
        size = size,
        srcs = srcs,
        args = ["$(locations :%s_corpus)" % name],
        data = [":%s_corpus" % name],
        # One executable with the instrumented code in it, as libFuzzer
        # wants, rather than a chain of shared test libraries.
        linkstatic = True,
        linkopts = select({
            "//fuzz:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + select({
            "//fuzz:libfuzzer": [],
            "//conditions:default": ["//fuzz:replay_main"],
        }),
        tags = ["fuzz"],
        **kwargs
    )
