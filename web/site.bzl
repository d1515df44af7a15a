"""static_site: the deployable web page as one directory.

Copies the page's files and the WebAssembly validator (.js + .wasm) flat
into bazel-bin/<package>/<name>/, ready for any static file server.
"""

def _static_site_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    files = ctx.files.srcs + ctx.files.validator
    names = {}
    for f in files:
        if f.basename in names:
            fail("two site files named %s: %s and %s" % (f.basename, names[f.basename].path, f.path))
        names[f.basename] = f
    ctx.actions.run_shell(
        inputs = files,
        outputs = [out],
        command = 'out="$1"; shift; mkdir -p "$out" && for f in "$@"; do cp "$f" "$out/"; chmod 0644 "$out/$(basename "$f")"; done',
        arguments = [out.path] + [f.path for f in files],
        mnemonic = "StaticSite",
        progress_message = "Assembling static site %s" % out.short_path,
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

static_site = rule(
    implementation = _static_site_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = True),
        "validator": attr.label(allow_files = [".js", ".wasm"]),
    },
)
