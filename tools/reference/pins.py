"""The pinned reference versions (requirements.txt beside this file) and the
check that the running interpreter has exactly them installed.

Everything the generator writes records these versions, so data generated
against another installation would claim a reference it does not follow.
"""
import importlib.metadata
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, "requirements.txt")

# The packages whose behaviour the generated data records, by the name the
# generated files use for them.
REFERENCE_PACKAGES = {
    "llmcompressor": "llmcompressor",
    "compressed_tensors": "compressed-tensors",
    "transformers": "transformers",
    "torch": "torch",
}


def read_pins(path=REQUIREMENTS):
    """{distribution name: version} for every `name==version` line."""
    pins = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", line)
            if match is None:
                raise SystemExit(f"{path}:{number}: expected NAME==VERSION, got {line!r}")
            pins[match.group(1).lower()] = match.group(2)
    return pins


def _public(version):
    """'2.10.0+cu128' -> '2.10.0': pip ignores local labels in == pins."""
    return version.split("+", 1)[0]


def check_installed(pins):
    """Refuses to run unless every pinned distribution is installed at its pin."""
    problems = []
    for name, pinned in pins.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name}=={pinned} is not installed")
            continue
        if _public(installed) != pinned:
            problems.append(f"{name} is {installed}, the pin is {pinned}")
    if problems:
        raise SystemExit(
            "tools/reference/generate.py needs the pinned reference environment:\n  "
            + "\n  ".join(problems)
            + f"\nInstall it with: python3 -m venv VENV && VENV/bin/pip install -r {REQUIREMENTS}")


def reference_versions(pins):
    """{"llmcompressor": "0.14.0.1", ...}: what every generated file records."""
    return {key: pins[dist] for key, dist in REFERENCE_PACKAGES.items()}
