"""Merging and alerting as one fold (`pipeline.live.LiveMergeAlertStep`), without Beam: the events and alerts
of the four folds it stands for, however a stream is cut into flushes, and a state log that reads back."""

from __future__ import annotations

import random

import pytest

from pipeline.alerting import alerts_batch, load_rules
from pipeline.live import ALERT, EVENT, LiveMergeAlertStep
from pipeline.merge_build import merge_batch
from pipeline.merge_order import Meta, record, restore


def stream_of(make_mention):
    """Reports of a shipment (a figure that grows, a confirmation), a visit with a reprint, and other news."""
    ship = {"type": "weapons_transfer", "actors": ("PRK", "RUS"), "place": "Dunai"}
    visit = {"type": "leader_meeting_or_visit", "actors": ("RUS", "PRK"), "place": "Pyongyang"}
    return [
        make_mention("s1", published="2024-10-15T08:00:00Z", quantities={"containers": 1000}, source="researchers",
                     text="Researchers counted 1,000 containers at the port", **ship),
        make_mention("s2", published="2024-10-16T08:00:00Z", quantities={"containers": 1000}, source="researchers",
                     text="About 1,000 containers left the port, researchers say", **ship),
        make_mention("s3", published="2024-10-18T08:00:00Z", modality="confirmed", source="Kremlin",
                     text="The Kremlin confirmed deliveries through the port", **ship),
        make_mention("s4", published="2024-10-20T08:00:00Z", quantities={"containers": 2500}, source="officials",
                     text="Officials now count 2,500 containers shipped to the port", **ship),
        make_mention("v1", published="2024-11-29T06:00:00Z", event_date="2024-11-29",
                     text="The defence minister landed in the capital for talks", **visit),
        make_mention("v2", published="2024-11-29T09:00:00Z", cluster="v1", duplicate_of="v1",
                     text="The defence minister landed in the capital for talks", **visit),
        make_mention("n1", published="2024-12-03T08:00:00Z", type="economic_cooperation",
                     text="A trade fair opened with grain and timber stands"),
    ]


@pytest.mark.parametrize("seed", range(4))
def test_one_fold_gives_the_events_and_alerts_of_the_four_in_any_flushes(make_mention, seed):
    rng = random.Random(seed)
    mentions = stream_of(make_mention)
    rules = load_rules()
    merged = merge_batch(mentions)
    expected_alerts = sorted(a.model_dump_json() for a in alerts_batch(merged.revisions, rules))
    expected_events = {e.event_id: e.model_dump_json() for e in merged.events}
    assert any('"kind":"new"' in a for a in expected_alerts) and any('"kind":"update"' in a or
                                                                     '"kind":"confirmation"' in a
                                                                     for a in expected_alerts)
    step = LiveMergeAlertStep(rules)
    pending = sorted(mentions, key=step.order_key)  # a stream in article order, as the fold sorts a tick
    state, meta, log, alerts, events = None, Meta(), [], [], {}
    while pending:
        cut = rng.randint(1, 3)
        flush, pending = pending[:cut], pending[cut:]
        state, out = step.run("stories", state, flush)
        for tag, item in out:
            if tag == ALERT:
                alerts.append(item.model_dump_json())
            else:
                assert tag == EVENT
                events[item.event_id] = item.model_dump_json()  # the latest state of each event wins
        renew, entry, meta = record(step, state, meta)
        log = ([] if renew else log) + ([entry] if entry is not None else [])
        assert held(restore(step, log)) == held(state)
    assert sorted(alerts) == expected_alerts
    assert events == expected_events


def held(state) -> tuple:
    """What the fold's state holds, comparable: the two indexes and every shard's sub-states."""
    shards = {name: (shard.states, shard.clocks, shard.newest) for name, shard in state.shards.shards.items()}
    return state.stories, state.news, shards
