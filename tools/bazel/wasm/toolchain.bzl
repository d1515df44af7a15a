"""A C++ toolchain for Debian's Emscripten (emcc 3.1.6, clang 14).

Used only through the `wasm` configuration (//tools/bazel/wasm:wasm_binary.bzl
transitions into it; `--config=wasm` selects it for a whole build). It
compiles and archives; the final link to .js + .wasm is wasm_binary's.
"""

load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")
load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
)

_COMPILE_ACTIONS = [
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.cpp_module_compile,
]

# Where emcc's own headers live: Bazel checks every included header is
# either declared or under one of these.
_BUILTIN_INCLUDES = [
    "/usr/share/emscripten/cache/sysroot/include",
    "/usr/share/emscripten/system/include",
    "/usr/lib/llvm-14/lib/clang/14.0.6/include",
]

def _emscripten_toolchain_config_impl(ctx):
    features = [
        feature(
            name = "default_compile_flags",
            enabled = True,
            flag_sets = [
                flag_set(
                    actions = _COMPILE_ACTIONS,
                    flag_groups = [flag_group(flags = [
                        # The mapping core never throws; the wasm build proves it.
                        "-fno-exceptions",
                        # -Oz would save a third of the module's size at
                        # ~2.7x the run time of a large check.
                        "-O2",
                        "-DNDEBUG",
                    ])],
                ),
                flag_set(
                    actions = [ACTION_NAMES.cpp_compile, ACTION_NAMES.cpp_header_parsing],
                    flag_groups = [flag_group(flags = ["-std=c++17"])],
                ),
            ],
        ),
        feature(
            name = "dependency_file",
            enabled = True,
            flag_sets = [flag_set(
                actions = _COMPILE_ACTIONS,
                flag_groups = [flag_group(
                    flags = ["-MD", "-MF", "%{dependency_file}"],
                    expand_if_available = "dependency_file",
                )],
            )],
        ),
    ]
    tools = {
        "gcc": "emcc.sh",
        "ar": "/usr/bin/llvm-ar-14",
        "cpp": "/bin/false",
        "gcov": "/bin/false",
        "ld": "/bin/false",
        "nm": "/bin/false",
        "objdump": "/bin/false",
        "strip": "/bin/false",
    }
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = features,
        cxx_builtin_include_directories = _BUILTIN_INCLUDES,
        toolchain_identifier = "emscripten-wasm32",
        host_system_name = "x86_64-linux-gnu",
        target_system_name = "wasm32-unknown-emscripten",
        target_cpu = "wasm",
        target_libc = "musl",
        compiler = "emscripten",
        abi_version = "emscripten",
        abi_libc_version = "default",
        tool_paths = [tool_path(name = k, path = v) for k, v in tools.items()],
    )

emscripten_toolchain_config = rule(
    implementation = _emscripten_toolchain_config_impl,
    attrs = {},
    provides = [CcToolchainConfigInfo],
)
