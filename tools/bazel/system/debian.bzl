"""Repository rules exposing pinned Debian system libraries to Bazel.

Every repository created here first checks that the installed Debian packages
match tools/debian-pins.txt exactly, so a build never silently runs against a
different library version than the one tested.
"""

_LIBDIR = "/usr/lib/x86_64-linux-gnu"

def _check_pins(ctx):
    pins = ctx.read(ctx.attr.pins)
    bad = []
    for line in pins.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pkg, ver = line.split(" ", 1)
        res = ctx.execute(["dpkg-query", "-W", "-f", "${Version}", pkg])
        have = res.stdout.strip() if res.return_code == 0 else "not installed"
        if have != ver.strip():
            bad.append("  %s: pinned %s, found %s" % (pkg, ver.strip(), have))
    if bad:
        fail("wring builds only against the pinned Debian packages " +
             "(tools/debian-pins.txt), but:\n" + "\n".join(bad) +
             "\nFix: run `bash tools/setup.sh` (it installs the pinned versions), " +
             "then `bazel clean --expunge`.")

def _absl_linkopts(ctx):
    res = ctx.execute(["sh", "-c", "ls %s/libabsl_*.so" % _LIBDIR])
    if res.return_code != 0:
        fail("Abseil shared libraries not found under %s: run tools/setup.sh" % _LIBDIR)
    libs = []
    for path in sorted(res.stdout.strip().split("\n")):
        name = path.split("/")[-1][len("lib"):-len(".so")]
        libs.append('"-l%s"' % name)
    return ", ".join(libs)

_SYSTEM_BUILD = """
package(default_visibility = ["//visibility:public"])

# In the WebAssembly configuration (//tools/bazel/wasm) the same libraries
# come from @wasm_deps, compiled with Emscripten from the Debian sources of
# the pinned packages.

# Abseil must not be linked with --as-needed: some of its libraries are only
# reached through inline code, and dropping them fails at run time.
cc_library(
    name = "absl",
    linkopts = select({{
        "@//tools/bazel/wasm:emscripten": [],
        "//conditions:default": ["-Wl,--push-state,--no-as-needed", {absl}, "-Wl,--pop-state"],
    }}),
    deps = select({{
        "@//tools/bazel/wasm:emscripten": ["@wasm_deps//:absl"],
        "//conditions:default": [],
    }}),
)

# Linked into binaries only (//:wring, //bench), never into the sanitizer
# builds, whose runtimes bring their own allocator. The runtime package has
# no unversioned symlink, hence the file name.
cc_library(
    name = "tcmalloc",
    linkopts = ["-Wl,--push-state,--no-as-needed", "-l:libtcmalloc_minimal.so.4", "-Wl,--pop-state"],
)

cc_library(
    name = "re2",
    linkopts = select({{
        "@//tools/bazel/wasm:emscripten": [],
        "//conditions:default": ["-lre2"],
    }}),
    deps = select({{
        "@//tools/bazel/wasm:emscripten": ["@wasm_deps//:re2"],
        "//conditions:default": [":absl"],
    }}),
)

cc_library(
    name = "yaml",
    linkopts = select({{
        "@//tools/bazel/wasm:emscripten": [],
        "//conditions:default": ["-lyaml"],
    }}),
    deps = select({{
        "@//tools/bazel/wasm:emscripten": ["@wasm_deps//:yaml"],
        "//conditions:default": [],
    }}),
)

# Header-only.
cc_library(
    name = "nlohmann_json",
    deps = select({{
        "@//tools/bazel/wasm:emscripten": ["@wasm_deps//:nlohmann_json"],
        "//conditions:default": [],
    }}),
)

# LibTorch (Debian's CPU build, for the native backend only). Its C++ API
# headers live under /usr/include/torch/csrc/api/include; the repository links
# that directory in so `includes` can name it (an include path of
# /usr/include itself breaks unsandboxed builds). ATen/c10 headers resolve
# under /usr/include.
cc_library(
    name = "torch",
    hdrs = glob(["torch_api_include/**/*.h"]),
    includes = ["torch_api_include"],
    linkopts = [
        "-Wl,--push-state,--no-as-needed",
        "-ltorch",
        "-ltorch_cpu",
        "-lc10",
        "-Wl,--pop-state",
        "-pthread",
    ],
)

cc_library(
    name = "gtest_main",
    linkopts = ["-lgmock", "-lgtest_main", "-lgtest", "-pthread"],
)

cc_library(
    name = "gtest",
    linkopts = ["-lgmock", "-lgtest", "-pthread"],
)
"""

def _debian_system_libraries_impl(ctx):
    _check_pins(ctx)
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    ctx.symlink("/usr/include/torch/csrc/api/include", "torch_api_include")
    ctx.file("BUILD", _SYSTEM_BUILD.format(absl = _absl_linkopts(ctx)))

debian_system_libraries = repository_rule(
    implementation = _debian_system_libraries_impl,
    attrs = {"pins": attr.label(allow_single_file = True)},
    local = True,
)

_PROTOBUF_BUILD = """
package(default_visibility = ["//visibility:public"])

# In the WebAssembly configuration: compiled from the same Debian source.
cc_library(
    name = "protobuf",
    linkopts = select({
        "@//tools/bazel/wasm:emscripten": [],
        "//conditions:default": ["-lprotobuf", "-pthread"],
    }),
    deps = select({
        "@//tools/bazel/wasm:emscripten": ["@wasm_deps//:protobuf"],
        "//conditions:default": [],
    }),
)

sh_binary(
    name = "protoc",
    srcs = ["protoc.sh"],
)

# Well-known types come precompiled in libprotobuf; generating them again
# would define their symbols twice.
proto_library(
    name = "struct_proto",
    srcs = ["google/protobuf/struct.proto"],
)

proto_lang_toolchain(
    name = "cc_toolchain",
    blacklisted_protos = [":struct_proto"],
    command_line = "--cpp_out=$(OUT)",
    runtime = ":protobuf",
)
"""

def _debian_protobuf_impl(ctx):
    _check_pins(ctx)
    ctx.file("WORKSPACE", "workspace(name = \"com_google_protobuf\")\n")
    ctx.symlink("/usr/include/google/protobuf/struct.proto", "google/protobuf/struct.proto")
    ctx.file("protoc.sh", "#!/bin/sh\nexec /usr/bin/protoc \"$@\"\n", executable = True)
    ctx.file("BUILD", _PROTOBUF_BUILD)

debian_protobuf = repository_rule(
    implementation = _debian_protobuf_impl,
    attrs = {"pins": attr.label(allow_single_file = True)},
    local = True,
)
