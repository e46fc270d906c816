"""Pairwise grouping scores (`pipeline.grouping_eval.pairwise`) on a hand-made labelled set."""

from __future__ import annotations

from pipeline.grouping_eval import pair_kind, pairwise

GOLD = [
    {"id": "a", "published": "2024-10-18", "event_groups": ["D1"]},
    {"id": "b", "published": "2024-10-19", "event_groups": ["D1"]},
    {"id": "c", "published": None, "event_groups": ["D1"]},
    {"id": "d", "published": "2024-12-01", "event_groups": ["D2"]},
    {"id": "e", "published": "2024-12", "event_groups": ["D2", "DN1"]},
    {"id": "f", "published": "2024-12-02", "event_groups": ["DN1"]},
    {"id": "g", "published": "2024-10-18", "event_groups": []},
]


def event(*articles):
    return {"mentions": [{"article_id": a} for a in articles]}


def test_pairs_sharing_a_group_should_share_an_event_and_others_should_not():
    scores = pairwise(GOLD, [event("a", "b", "g"), event("c"), event("d", "e"), event("e", "f")])
    # gold pairs: ab ac bc (D1), de (D2); found ab, de; false ag, bg; ef shares only DN1: left out
    assert (scores["true_pairs"], scores["false_pairs"], scores["missed_pairs"]) == (2, 2, 2)
    assert scores["precision"] == 0.5 and scores["recall"] == 0.5
    assert scores["found_by_kind"] == {"dated<=10d": "1/1", "month-only": "1/1", "undated": "0/2"}


def test_pair_kinds_follow_what_the_publication_dates_allow():
    assert pair_kind(None, "2024-10-18") == "undated"
    assert pair_kind("2024-10", "2024-10-18") == "month-only"
    assert pair_kind("2024-10-18", "2024-10-28") == "dated<=10d"
    assert pair_kind("2024-10-18", "2024-11-29") == "dated>10d"
