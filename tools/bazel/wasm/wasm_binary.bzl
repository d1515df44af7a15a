"""wasm_binary: links C++ libraries into an Emscripten module (.js + .wasm).

The libraries are built in the wasm configuration whatever configuration
the wasm_binary itself is in (a transition on `deps`), so a plain
`bazel build //...` / `bazel test //...` builds the module too, next to the
native targets.
"""

def _to_wasm_impl(settings, attr):
    return {
        "//command_line_option:crosstool_top": "//tools/bazel/wasm:toolchain_suite",
        "//command_line_option:cpu": "wasm",
    }

_to_wasm = transition(
    implementation = _to_wasm_impl,
    inputs = [],
    outputs = [
        "//command_line_option:crosstool_top",
        "//command_line_option:cpu",
    ],
)

def _wasm_binary_impl(ctx):
    js = ctx.actions.declare_file(ctx.label.name + ".js")
    wasm = ctx.actions.declare_file(ctx.label.name + ".wasm")
    args = ctx.actions.args()
    inputs = []
    for dep in ctx.attr.deps:
        for linker_input in dep[CcInfo].linking_context.linker_inputs.to_list():
            args.add_all(linker_input.user_link_flags)
            for lib in linker_input.libraries:
                archive = lib.static_library or lib.pic_static_library
                if archive == None:
                    continue
                inputs.append(archive)

                # alwayslink libraries hold registrations (embind) that
                # nothing references.
                if lib.alwayslink:
                    args.add_all(["-Wl,--whole-archive", archive, "-Wl,--no-whole-archive"])
                else:
                    args.add(archive)
    for f in ctx.files.pre_js:
        args.add("--pre-js", f)
    args.add_all(ctx.attr.linkopts)
    args.add("-o", js)
    ctx.actions.run(
        executable = ctx.executable._emcc,
        arguments = [args],
        inputs = inputs + ctx.files.pre_js,
        outputs = [js, wasm],
        mnemonic = "EmccLink",
        progress_message = "Linking WebAssembly module %s" % js.short_path,
    )
    return [DefaultInfo(files = depset([js, wasm]), runfiles = ctx.runfiles(files = [js, wasm]))]

wasm_binary = rule(
    implementation = _wasm_binary_impl,
    attrs = {
        "deps": attr.label_list(providers = [CcInfo], cfg = _to_wasm),
        "linkopts": attr.string_list(),
        "pre_js": attr.label_list(allow_files = [".js"]),
        "_emcc": attr.label(
            default = "//tools/bazel/wasm:emcc.sh",
            executable = True,
            cfg = "exec",
            allow_single_file = True,
        ),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
