"""Text sketches for near-duplicate detection: article text → word shingles → MinHash signature → LSH band keys.

Pure functions (numpy, no Beam). A `Sketch` is what the dedup state keeps per article and band: the number of
distinct shingles and a 1-byte-per-hash ("b-bit") MinHash signature, enough to estimate Jaccard similarity and
containment between two articles without their texts.

- Shingles: 5-word windows over lower-cased, NFKC-normalised Unicode word tokens of the title and of every text
  line with at least `MIN_LINE_TOKENS` tokens (drops menus, bylines, "ua en ru" language pickers, captions).
- MinHash: `NUM_PERM` independent splitmix64 hash functions; the minimum of each over the shingle hashes.
- LSH: the first `BANDS * ROWS` minima in bands of `ROWS`; two articles with Jaccard J share at least one band with
  probability 1 - (1 - J^ROWS)^BANDS: 0.97 at J = 0.25, 0.99 at J = 0.30, 0.22 at J = 0.02 (unrelated stories on
  one topic). Single-row bands keep the keys per article few (12; each key costs a timer and state reads in
  the runner) at the price of more candidates, which the signature check below removes cheaply.
- Verification: the low byte of every minimum; equal bytes estimate J after removing chance collisions (1/256).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

SHINGLE_WORDS = 5
MIN_LINE_TOKENS = 4
NUM_PERM = 128
BANDS = 12
ROWS = 1
_WORD = re.compile(r"\w+", re.UNICODE)
_SEEDS = np.array([int.from_bytes(hashlib.blake2b(f"perm{i}".encode(), digest_size=8).digest(), "little")
                   for i in range(NUM_PERM)], dtype=np.uint64)
_CHANCE = 1.0 / 256.0


@dataclass(frozen=True)
class Sketch:
    """What near-duplicate matching needs of one article: its shingle count and its b-bit MinHash signature."""

    size: int
    signature: bytes  # NUM_PERM bytes, the low byte of each minimum

    def jaccard(self, other: Sketch) -> float:
        """Estimated Jaccard similarity of the two shingle sets (0 when either is empty)."""
        if not self.size or not other.size:
            return 0.0
        same = int(np.count_nonzero(np.frombuffer(self.signature, np.uint8) == np.frombuffer(other.signature, np.uint8)))
        return max(0.0, (same / NUM_PERM - _CHANCE) / (1.0 - _CHANCE))

    def containment(self, other: Sketch) -> float:
        """Estimated share of the smaller set found in the larger: |A ∩ B| / min(|A|, |B|), from J and the sizes."""
        j = self.jaccard(other)
        if j <= 0.0:
            return 0.0
        common = j * (self.size + other.size) / (1.0 + j)
        return min(1.0, common / min(self.size, other.size))


def tokens(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def shingles(title: str, text: str, k: int = SHINGLE_WORDS) -> set[str]:
    """Distinct k-word shingles of the title and of the content lines of `text` (short lines left out)."""
    words: list[str] = []
    for i, line in enumerate([title, *text.splitlines()]):
        line_tokens = tokens(line)
        if i == 0 or len(line_tokens) >= MIN_LINE_TOKENS:
            words.extend(line_tokens)
    if not words:
        return set()
    if len(words) < k:
        return {" ".join(words)}
    return {" ".join(words[i:i + k]) for i in range(len(words) - k + 1)}


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place on `x` (uint64 arithmetic wraps, as the 64-bit original does)."""
    with np.errstate(over="ignore"):
        x += np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
        return x


def minhash(items: set[str]) -> np.ndarray:
    """The NUM_PERM MinHash minima (uint64) of `items`; all-ones for the empty set."""
    if not items:
        return np.full(NUM_PERM, 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
    digests = b"".join(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest() for s in items)
    hashed = np.frombuffer(digests, dtype="<u8").astype(np.uint64)  # each shingle's 64-bit hash, little-endian
    return _splitmix64(hashed[:, None] ^ _SEEDS[None, :]).min(axis=0)


def band_keys(minima: np.ndarray) -> list[str]:
    """The BANDS LSH keys of a signature: band number and a short hash of its ROWS minima."""
    keys = []
    for band in range(BANDS):
        rows = minima[band * ROWS:(band + 1) * ROWS].tobytes()
        keys.append(f"{band:02d}:{hashlib.blake2b(rows, digest_size=8).hexdigest()}")
    return keys


def sketch_of(items: set[str], minima: np.ndarray | None = None) -> Sketch:
    minima = minhash(items) if minima is None else minima
    return Sketch(size=len(items), signature=(minima & np.uint64(0xFF)).astype(np.uint8).tobytes())


def sketch_text(title: str, text: str) -> tuple[Sketch, list[str]]:
    """An article's sketch and LSH band keys (no keys when it has no shingles: it cannot be matched)."""
    items = shingles(title, text)
    minima = minhash(items)
    return sketch_of(items, minima), (band_keys(minima) if items else [])
