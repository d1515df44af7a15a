"""The third-party libraries of the WebAssembly build, from Debian sources.

The native build links the pinned Debian packages (tools/debian-pins.txt);
the WebAssembly build compiles the very same Debian source versions with
Emscripten. This repository rule asks dpkg which source package and version
each pinned -dev package was built from, downloads exactly that with
`apt-get source --download-only` (apt checks it against the signed archive
index), unpacks it with Debian's patches applied, and regenerates the files
Debian's re2 tarball leaves out. Nothing else is downloaded and nothing is
vendored. The BUILD file (wasm_deps.BUILD) compiles only what the mapping
core needs.
"""

# -dev package (pinned) -> directory of its source in this repository.
_SOURCES = {
    "libabsl-dev": "abseil",
    "libre2-dev": "re2",
    "libprotobuf-dev": "protobuf",
    "libyaml-dev": "yaml",
}

def _pinned_versions(ctx):
    pins = {}
    for line in ctx.read(ctx.attr.pins).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pkg, ver = line.split(" ", 1)
            pins[pkg] = ver.strip()
    return pins

def _run(ctx, argv, what, **kwargs):
    res = ctx.execute(argv, timeout = 600, **kwargs)
    if res.return_code != 0:
        fail("%s failed (%s):\n%s\n%s" % (what, " ".join(argv), res.stdout, res.stderr))
    return res.stdout

def _source_of(ctx, pins, pkg):
    """The (source package, source version) the installed `pkg` came from."""
    res = ctx.execute(["dpkg-query", "-W", "-f", "${Version} ${source:Package} ${source:Version}", pkg])
    fields = res.stdout.strip().split(" ")
    if res.return_code != 0 or len(fields) != 3 or fields[0] != pins.get(pkg):
        fail(("%s must be installed at its pinned version %s (tools/debian-pins.txt); " +
              "run `bash tools/setup.sh`.") % (pkg, pins.get(pkg)))
    return fields[1], fields[2]

def _fetch_source(ctx, source, version, into):
    work = "_download/" + into
    _run(ctx, ["mkdir", "-p", work], "mkdir")
    res = ctx.execute(
        ["apt-get", "source", "--download-only", "%s=%s" % (source, version)],
        working_directory = work,
        timeout = 600,
    )
    if res.return_code != 0:
        fail(("`apt-get source %s=%s` failed. The WebAssembly build compiles Debian's " +
              "sources of the pinned libraries and needs a deb-src entry for the " +
              "archive apt uses: run `bash tools/setup.sh` (it adds one).\n%s") %
             (source, version, res.stderr))
    dsc = "%s_%s.dsc" % (source, version.split(":")[-1])

    # apt-get verified the files against the signed Sources index already.
    _run(ctx, ["dpkg-source", "--no-check", "-x", dsc, "../../" + into], "dpkg-source",
         working_directory = work)

def _regenerate_re2_tables(ctx):
    # Debian's re2 tarball drops the generated Unicode tables; its build
    # regenerates them from Debian's unicode-data with these scripts, and so
    # do we.
    _run(ctx, ["sh", "-c", "perl make_perl_groups.pl > perl_groups.cc"], "re2 perl groups",
         working_directory = "re2/re2")
    for table in ["casefold", "groups"]:
        _run(ctx, ["sh", "-c", "/usr/bin/python3 make_unicode_%s.py > unicode_%s.cc" % (table, table)],
             "re2 unicode tables", working_directory = "re2/re2")

def _protobuf_sources(ctx, cmake_file, list_name):
    """The .cc files upstream's CMake build lists for one protobuf library."""
    text = ctx.read("protobuf/cmake/%s" % cmake_file)
    start = text.find("set(%s" % list_name)
    if start < 0:
        fail("protobuf/cmake/%s has no %s list" % (cmake_file, list_name))
    block = text[start:text.find(")", start)]
    sources = []
    for line in block.splitlines():
        line = line.strip()
        prefix = "${protobuf_SOURCE_DIR}/"
        if line.startswith(prefix) and line.endswith(".cc"):
            sources.append("protobuf/" + line[len(prefix):])
    return sources

def _debian_wasm_sources_impl(ctx):
    pins = _pinned_versions(ctx)
    for pkg in sorted(_SOURCES):
        source, version = _source_of(ctx, pins, pkg)
        _fetch_source(ctx, source, version, _SOURCES[pkg])
    _run(ctx, ["rm", "-rf", "_download"], "cleanup")

    # Upstream's own Bazel files would split this repository into packages;
    # wasm_deps.BUILD describes the libraries instead.
    _run(ctx, ["find"] + sorted(_SOURCES.values()) + [
        "(", "-name", "BUILD", "-o", "-name", "BUILD.bazel", "-o", "-name", "WORKSPACE",
        "-o", "-name", "WORKSPACE.bazel", ")", "-type", "f", "-delete",
    ], "removing upstream Bazel files")
    _regenerate_re2_tables(ctx)

    # Header-only, used as installed (pinned nlohmann-json3-dev).
    ctx.symlink("/usr/include/nlohmann", "nlohmann_json/nlohmann")

    protobuf_sources = (_protobuf_sources(ctx, "libprotobuf-lite.cmake", "libprotobuf_lite_files") +
                        _protobuf_sources(ctx, "libprotobuf.cmake", "libprotobuf_files"))
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    ctx.template("BUILD", ctx.attr.build_file, substitutions = {
        "%{PROTOBUF_SOURCES}": repr(protobuf_sources),
    })

debian_wasm_sources = repository_rule(
    implementation = _debian_wasm_sources_impl,
    attrs = {
        "pins": attr.label(allow_single_file = True),
        "build_file": attr.label(allow_single_file = True),
    },
)
