"""embed_text: a cc_library whose function returns a checked-in text file.

    embed_text(name = "awq_mappings_json", src = "data/awq_mappings.json",
               function = "AwqMappingsJson")

gives `#include "<package>/awq_mappings_json.h"` declaring
`absl::string_view wring::embedded::AwqMappingsJson()`. The same script
serves the CMake build (CMakeLists.txt), so both compile identical data, and
the data reaches the WebAssembly module without a file system.
"""

load("@rules_cc//cc:defs.bzl", "cc_library")

def embed_text(name, src, function, visibility = None):
    header = name + ".h"
    source = name + ".cc"
    include = (native.package_name() + "/" if native.package_name() else "") + header
    native.genrule(
        name = name + "_gen",
        srcs = [src],
        outs = [header, source],
        tools = ["//tools/bazel/embed:embed_text.sh"],
        cmd = "$(location //tools/bazel/embed:embed_text.sh) $< %s $(location %s) $(location %s) %s" % (
            function,
            header,
            source,
            include,
        ),
    )
    cc_library(
        name = name,
        srcs = [source],
        hdrs = [header],
        deps = ["@system//:absl"],
        visibility = visibility,
    )
