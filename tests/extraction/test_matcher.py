"""The vocabulary matcher: fragment expansion, whole-word matching, overlaps, Hangul inside words."""

from __future__ import annotations

import re

from pipeline.extraction.matcher import VocabularyMatcher, expand, head_of, longest_first


def test_expand_turns_leading_groups_into_literal_heads():
    assert sorted(expand("(?:ballistic |cruise )?missiles?")) == ["ballistic missiles?", "cruise missiles?",
                                                                   "missiles?"]
    assert sorted(expand("troops|soldiers")) == ["soldiers", "troops"]
    assert expand("(?-i:KPA)") == ["(?-i:KPA)"]
    assert all(head_of(p) for p in expand("(?:the )?(?:kremlin|крем\\w+)"))


def test_head_of():
    assert head_of("north korean?s?") == ("north", True)     # only the token "north" can start it
    assert head_of("troops?") == ("troop", False)           # any token starting with "troop"
    assert head_of("sen(?:d|ds|ding|t)") == ("sen", False)
    assert head_of("(?-i:NIS)") == ("nis", True)
    assert head_of("n\\.? ?korean?") == ("n", False)         # "N. Korea", but also "NKorea"
    assert head_of("KN-?23") == ("kn", False)                # "KN-23" and "KN23"
    assert head_of("\\d+ killed") == ("#", False)
    assert head_of("[Tt]he") is None


def test_whole_words_only_and_overlaps_kept():
    matcher = VocabularyMatcher([("sent", "send"), ("north korea", "place"), ("north korean?s?", "actor")],
                                re.IGNORECASE)
    hits = matcher.find("The present was sent by North Koreans to North Korea.")
    # "sent" inside "present" and "North Korea" inside "North Koreans" are not whole words
    assert {(start, end, tag) for start, end, tags in hits for tag in tags} == {
        (16, 20, "send"), (24, 37, "actor"), (41, 52, "place"), (41, 52, "actor")}


def test_hangul_fragments_match_inside_words():
    matcher = VocabularyMatcher([("북한", "prk"), ("파병", "deploy")], re.IGNORECASE)
    hits = matcher.find("북한이 러시아에 파병했다")
    assert [(start, tags) for start, _, tags in hits] == [(0, ("prk",)), (9, ("deploy",))]


def test_longest_first():
    hits = [(0, 5, "a"), (0, 11, "b"), (6, 11, "c"), (12, 15, "d")]
    assert [tag for _, _, tag in longest_first(hits)] == ["b", "d"]


def test_capturing_groups_in_fragments_do_not_shift_matches():
    matcher = VocabularyMatcher([("(north|south) korea", "k"), ("north (pole)", "p"), ("north", "n")],
                                re.IGNORECASE)
    assert {tag for _, _, tags in matcher.find("North Korea") for tag in tags} == {"k", "n"}
