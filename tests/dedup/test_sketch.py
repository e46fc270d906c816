"""Shingles, MinHash and LSH keys (`pipeline.sketch`): deterministic, estimates close to the exact measures."""

from __future__ import annotations

import random

from pipeline.sketch import BANDS, NUM_PERM, Sketch, band_keys, minhash, shingles, sketch_of, sketch_text

WORDS = [f"w{i}" for i in range(2_000)]


def _text(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(n)]


def test_short_lines_are_left_out_but_the_title_is_kept():
    got = shingles("Ship seen", "Home | World\nA cargo ship from Rajin was seen unloading at Dunai today")
    assert any(s.startswith("ship seen a cargo ship") for s in got)
    assert not any("home" in s or "world" in s for s in got)


def test_text_shorter_than_a_shingle_is_one_shingle_and_empty_text_none():
    assert shingles("", "three short words here") == {"three short words here"}
    assert shingles("", "") == set() and sketch_text("", "")[1] == []


def test_sketch_is_deterministic_and_normalises_case_and_unicode():
    a = sketch_text("Title", "North Korea sent ＴＲＯＯＰＳ to Kursk region in October last year")
    b = sketch_text("title", "north korea sent troops to kursk region in october last year")
    assert a == b and len(a[1]) == BANDS and len(a[0].signature) == NUM_PERM


def test_jaccard_and_containment_estimates_are_close_to_exact():
    rng = random.Random(7)
    base = set(_text(rng, 300))
    for keep, extra in [(300, 0), (200, 100), (150, 400), (60, 0)]:
        other = set(sorted(base)[:keep]) | set(_text(rng, extra))
        exact_j = len(base & other) / len(base | other)
        exact_c = len(base & other) / min(len(base), len(other))
        a, b = sketch_of(base), sketch_of(other)
        assert abs(a.jaccard(b) - exact_j) < 0.12
        assert abs(a.containment(b) - exact_c) < 0.15


def test_unrelated_texts_estimate_near_zero():
    rng = random.Random(11)
    a, b = sketch_of(set(_text(rng, 200))), sketch_of(set(_text(rng, 200)))
    assert a.jaccard(b) < 0.05


def test_identical_sets_share_every_band_and_disjoint_sets_share_few():
    rng = random.Random(3)
    items = set(_text(rng, 100))
    assert band_keys(minhash(items)) == band_keys(minhash(set(items)))
    shared = set(band_keys(minhash(items))) & set(band_keys(minhash(set(_text(rng, 100)))))
    assert len(shared) <= 1


def test_an_empty_sketch_matches_nothing():
    assert Sketch(0, bytes(NUM_PERM)).jaccard(sketch_of({"a b c d e"})) == 0.0
