"""A 64-bit fingerprint of a tensor's exact bits, so the test can check
that a checkpoint equals llm-compressor's bit for bit without the
reference checkpoint in the repository: the elements' bit patterns as
integers, weighted by position (so moved values count), summed mod 2^64.
Any single changed element changes it. numpy only; make_reference.py and
real_model_test.py share it, and setup.py its whole-file SHA-256.
"""
import hashlib

import numpy as np

_BITS = {np.dtype(np.float32): np.int32, np.dtype(np.float16): np.int16,
         np.dtype(np.float64): np.int64}


def fingerprint(array):
    flat = np.ascontiguousarray(array).reshape(-1)
    if flat.dtype in _BITS:
        flat = flat.view(_BITS[flat.dtype])
    values = flat.astype(np.int64)
    weights = np.arange(values.size, dtype=np.int64) % 65521 + 1
    with np.errstate(over="ignore"):
        return "%016x" % (int(np.sum(values * weights, dtype=np.int64)) & (2**64 - 1))


def checkpoint_fingerprints(tensors):
    """{name: "dtype[shape] fingerprint"} for a dict of numpy arrays."""
    return {name: "%s%s %s" % (t.dtype, list(t.shape), fingerprint(t))
            for name, t in sorted(tensors.items())}


def combined(fingerprints):
    """One fingerprint for a whole {name: ...} map."""
    text = "\n".join("%s %s" % item for item in sorted(fingerprints.items()))
    return fingerprint(np.frombuffer(text.encode(), dtype=np.uint8))


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
