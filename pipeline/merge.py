"""Event merging: EventMention → CanonicalEvent, one new revision per mention taken in. Nothing goes to dead
letters (every mention joins or opens an event).

Two ordered folds (`OrderedFold`: grouped in a bounded replay, bag state and timers in the stream; each
key's values in the fixed order (element timestamp, article time, article id, position), so bundle
boundaries, arrival order and runner change nothing):

1. `AssignStories` — one key: an article's mentions (they share its element timestamp, so one flush holds
   them all) are gathered, the article joins a story and each mention an event of that story
   (`pipeline.merge_story`; compatibility in `pipeline.merge_match`, word similarity in `pipeline.merge_text`).
   Its state is only the `EventView`s and the hashed title and evidence terms of the stories of the last
   `horizon_days` (21) of article time, no texts, and, of older stories, the views of the events a dated
   reference may still join (lede events with known days, up to `reach_days` (90) after their latest report).
   One key keeps the decision global (a story may hold any event type); at the volume of this beat
   (hundreds of relevant articles a day) one worker is ample.
2. `BuildEvents` — keyed by event id, folded inside `event_shards` hash shards (`ShardedStep`): an event's
   mentions in order → a revision per mention (only that mention in it) and, after each flush, the event's
   latest state (every mention, the claims timeline) (`pipeline.merge_build`). The event's aggregates and
   mention references are kept here, dropped 91 days of article time after its latest report, when no
   dated reference can join it any more (`reach_days` + 1; its story takes no more articles after 21 days).

`MergeEvents` returns both: {"revisions": ..., "events": ...}; the alert stage judges the revisions, the sinks
write the events.

Merging is not made order-independent because it cannot be: a stream must publish revision r before it sees
the mention of revision r + 1; fixing the order is what makes the published sequence reproducible.
"""

from __future__ import annotations

import apache_beam as beam

from pipeline.merge_build import BuildStep, Latest, last_report
from pipeline.merge_match import DAY, MergeSettings
from pipeline.merge_order import DEFAULT_TICK_MICROS, OrderedFold
from pipeline.merge_story import AssignStep, Placed
from pipeline.shards import ShardedStep, shard_of
from schemas.records import CanonicalEvent, EventMention

STORY_KEY = "stories"
EVENT_SHARDS = 64


def _by_event(placed: Placed):
    return placed.event_id, placed


def _unwrap(latest: Latest):
    return latest.event


def build_step(settings: MergeSettings) -> ShardedStep:
    """`BuildEvents`' step: `BuildStep` per event id inside hash shards, an event kept until no dated reference
    can join it any more (`reach_days` + 1 after its latest report)."""
    keep_days = max(settings.horizon_days, settings.reach_days) + 1
    return ShardedStep(BuildStep(), _by_event, last_report, keep_days * DAY)


class MergeEvents(beam.PTransform):
    """EventMention → {"revisions": a CanonicalEvent per mention (only that mention in it), "events": each
    event's latest state after each flush (every mention, the claims timeline)}."""

    def __init__(self, settings: MergeSettings | None = None, tick_micros: int = DEFAULT_TICK_MICROS,
                 event_shards: int = EVENT_SHARDS):
        super().__init__()
        self.settings = settings or MergeSettings()
        self.tick_micros = tick_micros
        self.event_shards = event_shards

    def expand(self, mentions):
        tick, shards = self.tick_micros, self.event_shards
        build = build_step(self.settings)
        built = (
            mentions
            | "OneKey" >> beam.Map(lambda m: (STORY_KEY, m)).with_output_types(tuple[str, EventMention])
            | "AssignStories" >> OrderedFold(AssignStep(self.settings), tick)
            | "KeyByEvent" >> beam.Map(lambda p: (shard_of(p.event_id, shards, "v"), p))
            .with_output_types(tuple[str, Placed])
            | "BuildEvents" >> OrderedFold(build, tick)
            | "SplitLatest" >> beam.Partition(lambda item, _: int(isinstance(item, Latest)), 2)
        )
        events = built[1] | "Unwrap" >> beam.Map(_unwrap).with_output_types(CanonicalEvent)
        return {"revisions": built[0], "events": events}
