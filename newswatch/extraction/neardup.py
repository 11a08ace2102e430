"""Near-duplicate fingerprints of story texts: a MinHash signature (rensa) over word shingles, and its LSH band
keys, which the stories index holds as keywords so that finding a story's likely copies is one terms query
(see :mod:`newswatch.clustering`). Pure functions, cheap enough to run for every story in the CPU stage.
"""
from __future__ import annotations

import base64
import hashlib
import re
import sys
from array import array

import rensa

SHINGLE_WORDS = 5  # a shingle is 5 consecutive words: one edited word changes at most 5 of them
NUM_PERM = 128
# 64 bands of 2 rows: a pair becomes a candidate with P ~0.88 at Jaccard 0.18 (a copy with a third of its text
# changed or added), ~0.98 at 0.25, ~0.025 at 0.02 (unrelated stories sharing a few stock phrases)
BANDS = 64
ROWS = NUM_PERM // BANDS
SEED = 20240501
VERSION = f"r{rensa.RMinHash.ALGORITHM_VERSION}k{SHINGLE_WORDS}p{NUM_PERM}b{BANDS}"

_WORD = re.compile(r"\w+")


def shingles(text: str) -> list[str]:
    """The text's word shingles: lower-cased words (any script), punctuation and layout ignored."""
    words = _WORD.findall(text.lower())
    if len(words) <= SHINGLE_WORDS:
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)]


def signature(text: str) -> list[int] | None:
    """The MinHash signature of ``text`` (``NUM_PERM`` unsigned 32-bit values), or None for a text without words."""
    items = shingles(text)
    return _minhash(items) if items else None


def _minhash(items: list[str]) -> list[int]:
    m = rensa.RMinHash(num_perm=NUM_PERM, seed=SEED)
    m.update(items)
    return list(m.digest())


def band_keys(sig: list[int]) -> list[str]:
    """One keyword per LSH band: two signatures share a key when all ``ROWS`` values of that band are equal."""
    keys = []
    for b in range(BANDS):
        chunk = array("I", sig[b * ROWS:(b + 1) * ROWS]).tobytes()
        keys.append(f"{VERSION}.{b:02d}.{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
    return keys


def encode(sig: list[int], size: int) -> str:
    """Signature and shingle count -> text (what the index stores, prefixed with :data:`VERSION`)."""
    data = array("I", sig)  # not numpy: the extraction workers, which encode, need not import it
    if data.itemsize != 4 or sys.byteorder != "little":  # pragma: no cover - what decode reads
        raise RuntimeError("signatures are stored as little-endian 32-bit values")
    return f"{VERSION}:{size}:" + base64.b64encode(data.tobytes()).decode("ascii")


def decode(value: str | None):
    """Stored text -> (signature as a numpy array, shingle count); None when missing or made by another version."""
    import numpy as np

    if not value:
        return None
    version, _, rest = value.partition(":")
    size, _, data = rest.partition(":")
    if version != VERSION or not size.isdigit():
        return None
    sig = np.frombuffer(base64.b64decode(data), dtype="<u4")
    return (sig, int(size)) if len(sig) == NUM_PERM else None


def similarity(a, b) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets (the share of equal signature values)."""
    import numpy as np

    return int(np.count_nonzero(np.asarray(a) == np.asarray(b))) / NUM_PERM


def shared(a: tuple[list[int], int], b: tuple[list[int], int]) -> tuple[float, float]:
    """Estimated share of the shorter and of the longer text that the two texts have in common, from their
    (signature, shingle count): Jaccard J = |A∩B| / |A∪B| gives |A∩B| = J (|A| + |B|) / (1 + J)."""
    (sig_a, n_a), (sig_b, n_b) = a, b
    if not n_a or not n_b:
        return 0.0, 0.0
    j = similarity(sig_a, sig_b)
    common = j * (n_a + n_b) / (1 + j)
    return min(1.0, common / min(n_a, n_b)), min(1.0, common / max(n_a, n_b))


def is_copy(a: tuple[list[int], int], b: tuple[list[int], int], threshold: float) -> bool:
    """Whether one text is a copy of the other: what they share covers at least ``threshold`` of the shorter
    (an outlet that cuts a paragraph, or adds its own, still carries the story) and half that of the longer (a
    short text, e.g. a site's standard paragraph on its own, is not a copy of every story it appears in)."""
    of_shorter, of_longer = shared(a, b)
    return of_shorter >= threshold and of_longer >= threshold / 2


def fingerprint(text: str) -> dict:
    """The story fields for ``text``: ``minhash`` (encoded signature) and ``lsh_bands``; empty for no words."""
    items = shingles(text)
    if not items:
        return {"minhash": None, "lsh_bands": []}
    sig = _minhash(items)
    return {"minhash": encode(sig, len(set(items))), "lsh_bands": band_keys(sig)}
