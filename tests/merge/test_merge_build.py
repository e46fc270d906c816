"""The canonical record (`pipeline.merge_build`): revisions, claims timeline, independent sources, state size."""

from __future__ import annotations

import pickle
import random

import pytest
from pydantic import ValidationError

from pipeline.merge_build import BuildStep, Latest, canonical, claims_timeline, independent_sources, merge_batch
from pipeline.merge_story import AssignStep, Placed, article_order
from schemas.records import CanonicalEvent


def test_each_mention_makes_a_revision_that_carries_only_that_mention(make_mention):
    mentions = [make_mention(a, published=f"2024-10-{d}T09:00:00Z", place="Kursk") for a, d in
                [("a", 18), ("b", 19), ("c", 20)]]
    merged = merge_batch(mentions)
    revisions = merged.revisions
    assert [e.revision for e in revisions] == [1, 2, 3] and [e.mentions_from for e in revisions] == [1, 2, 3]
    assert [[m.article_id for m in e.mentions] for e in revisions] == [["a"], ["b"], ["c"]]
    assert len({e.event_id for e in revisions}) == 1 and revisions[-1].independent_sources == 3
    [latest] = merged.events
    assert latest.revision == 3 and latest.mentions_from == 1 and [m.article_id for m in latest.mentions] == [
        "a", "b", "c"]
    assert latest.model_dump(exclude={"mentions", "mentions_from", "claims"}) == revisions[-1].model_dump(
        exclude={"mentions", "mentions_from", "claims"})


def test_a_record_whose_mentions_do_not_end_at_its_revision_is_refused(make_mention):
    event = merge_batch([make_mention("a"), make_mention("b")]).events[0]
    with pytest.raises(ValidationError, match="do not end at revision 2"):
        CanonicalEvent.model_validate(event.model_dump() | {"mentions_from": 2})


def test_revision_size_does_not_grow_with_the_event(make_mention):
    """An event of 400 mentions: its revisions cost the same at the end as at the start (they used to carry
    every mention, n²/2 references in all)."""
    mentions = [make_mention(f"a{i:03d}", published=f"2024-10-{1 + i // 20:02d}T{i % 20:02d}:00:00Z", place="Kursk",
                             quantities={"troops": 1000 + i}, source="NIS") for i in range(400)]
    merged = merge_batch(mentions)
    big = max(merged.events, key=lambda e: e.revision)
    assert big.revision >= 150 and len(big.mentions) == big.revision
    sizes = [len(e.model_dump_json()) for e in merged.revisions if e.event_id == big.event_id]
    assert sizes[-1] < 2 * sizes[9] and len(big.model_dump_json()) > 50 * sizes[-1], (sizes[9], sizes[-1])


def test_event_id_comes_from_the_first_mention_in_the_fixed_order(make_mention):
    a = make_mention("a", published="2024-10-18T09:00:00Z", place="Kursk")
    b = make_mention("b", published="2024-10-19T09:00:00Z", place="Kursk")
    assert merge_batch([b, a]).events[0].event_id == merge_batch([a]).events[0].event_id


def test_claims_timeline_who_said_what_figure_when(make_mention):
    mentions = [
        make_mention("nis-1", published="2024-10-18T09:00:00Z", place="Kursk", quantities={"troops": 1500},
                     source="NIS"),
        make_mention("copy", published="2024-10-18T11:00:00Z", place="Kursk", quantities={"troops": 1500},
                     source="NIS", cluster="nis-1", duplicate_of="nis-1"),
        make_mention("nis-2", published="2024-10-23T09:00:00Z", place="Kursk",
                     quantities={"troops": (10_000, 12_000)}, source="NIS"),
    ]
    latest = merge_batch(mentions).events[-1]
    assert [(c.source, c.quantity, c.low, c.high, c.article_id) for c in latest.claims] == [
        ("NIS", "troops", 1500, 1500, "nis-1"), ("NIS", "troops", 10_000, 12_000, "nis-2")]
    assert latest.quantities["troops"].low == 10_000 and latest.independent_sources == 2


def test_claims_are_ordered_by_article_time_not_by_arrival(make_mention):
    later = make_mention("jcs-2", published="2025-02-27T09:00:00Z", quantities={"killed_or_wounded": 4000},
                         source="JCS")
    earlier = make_mention("jcs-1", published="2025-01-19T09:00:00Z", quantities={"killed_or_wounded": 3000},
                           source="JCS")
    assert [c.low for c in claims_timeline([later, earlier])] == [3000, 4000]


def test_independent_sources_count_syndication_clusters_through_chains(make_mention):
    mentions = [make_mention("a"), make_mention("b", cluster="a", duplicate_of="a"),
                make_mention("c", cluster="b", duplicate_of="b"), make_mention("d")]
    assert independent_sources(mentions) == 2


def test_canonical_fields_take_the_most_precise_and_strongest(make_mention):
    mentions = [make_mention("a", place="Russia", modality="claimed", event_date="2024-10"),
                make_mention("b", place="Kursk", modality="confirmed", event_date="2024-10-15")]
    event = canonical("e1", mentions)
    assert event.location.name == "Kursk" and event.modality == "confirmed" and event.event_date == "2024-10-15"
    assert event.first_seen == mentions[0].published and [a.code for a in event.actors] == ["PRK", "RUS"]


def test_build_step_is_a_fold_over_placed_mentions(make_mention):
    placed = [Placed("e", "s", (article_order(m), 0), m) for m in
              (make_mention("a", published="2024-10-18T09:00:00Z"), make_mention("b", published="2024-10-19T09:00:00Z"))]
    state, out = BuildStep().run("e", None, placed[:1])
    state, more = BuildStep().run("e", state, placed[1:])
    assert [e.revision for e in out + more if isinstance(e, CanonicalEvent)] == [1, 2] and len(state.refs) == 2
    latest = [e.event for e in out + more if isinstance(e, Latest)]  # one latest state per flush
    assert [(e.revision, len(e.mentions)) for e in latest] == [(1, 1), (2, 2)]


def test_state_bytes_per_mention(make_mention):
    """What a mention costs the BuildEvents state: its reference (evidence included), a claim, a cluster node."""
    mentions = [make_mention(f"an-article-id-of-about-forty-characters-{i:02d}", place="Kursk",
                             quantities={"troops": 1500 + i}, source="South Korea's National Intelligence Service",
                             text="x" * 200,  # evidence sentences are ~200 characters, titles ~80
                             title="North Korean troops reach the Kursk front, Seoul's spy agency says in a briefing")
                 for i in range(20)]
    state = BuildStep().run("e", None, [Placed("e", "s", (article_order(m), 0), m) for m in mentions])[0]
    per_mention = len(pickle.dumps(state)) / len(mentions)
    assert 500 < per_mention < 2_000, per_mention


def test_story_index_bytes_per_mention(make_mention):
    """The story index keeps views and hashed terms (the union and each of the last articles'), no texts: about
    240 B a mention on the dev replay (docs/benchmarks.md); here 80 articles of 4 mentions, 50 words each."""
    rng = random.Random(0)
    vocabulary = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 10)))
                  for _ in range(3_000)]
    types = ["troop_deployment", "weapons_transfer", "leader_meeting_or_visit", "casualties"]
    mentions = []
    for a in range(80):
        topic = rng.sample(vocabulary[100:], 30)
        for i in range(4):
            mentions.append(make_mention(
                f"https://outlet{a % 7}.example/2024/10/story-{a:03d}", published=f"2024-10-{1 + a % 20:02d}T09:00:00Z",
                index=i, type=types[(a + i) % 4], place=["Kursk", "Moscow", "Pyongyang", None][a % 4],
                quantities={"troops": 1000 + a} if i == 0 else None, source=["NIS", "Kremlin", None][a % 3],
                start=200 * i, text=" ".join(rng.sample(topic, 15) + rng.sample(vocabulary[:100], 5)),
                title=" ".join(rng.sample(topic, 6))))
    step = AssignStep()
    state, _ = step.run("stories", None, sorted(mentions, key=step.order_key))
    assert all(isinstance(term, int) for story in state.stories for term in story.terms)
    per_mention = len(pickle.dumps(state)) / len(mentions)
    assert 150 < per_mention < 350, per_mention


def test_closed_stories_keep_only_the_events_a_dated_reference_may_join(make_mention):
    """Some 0.3-0.6 kB per such event (0.6 kB on the dev replay, docs/benchmarks.md), kept `reach_days` after its
    latest report."""
    step, state = AssignStep(), None
    for day in range(60):
        published = f"2025-{1 + day // 28:02d}-{1 + day % 28:02d}T09:00:00Z"
        state, _ = step.run("stories", state, [
            make_mention(f"https://outlet.example/2025/story-{day:03d}", published=published, event_date=published[:10],
                         type=["leader_meeting_or_visit", "troop_deployment"][day % 2], place="Pyongyang",
                         source="KCNA", text=f"item {day} words {day * 7} more words {day * 13}"),
            make_mention(f"https://outlet.example/2025/story-{day:03d}", published=published, index=1, start=900,
                         type="casualties", text=f"background {day}")])
    assert state.past and all(view.lede and view.type != "casualties" for _, view in state.past)
    per_event = len(pickle.dumps(state.past)) / len(state.past)
    assert 200 < per_event < 1_000, per_event
