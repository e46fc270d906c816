"""Merging and alerting as one fold on one key: the streaming job's "single" layout (`process.layout`).

On one machine a keyed stage costs the runner a bundle cycle per tick whatever its work: Prism 2.62 runs a
fold's timers in the stage's next bundle, after its input watermark moved (docs/benchmarks.md, streaming). The
sharded layout passes a relevant article through four folds after deduplication (`AssignStories`,
`BuildEvents`, `Judge`, `SettleNew`), each a hop of 0.3–0.8 s at 40 articles/s. `LiveMergeAlertStep` runs
the same four steps in one flush, in the same order per key and shard, so its events and alerts are those of
the four folds; only the keying differs (one key cannot spread over workers: on Flink or Dataflow the
sharded layout is the default, `nkru.settings.ProcessSettings.layout_for_runner`).

Its state is the story index and the news index (written whole when a flush changed them, as their own folds
write them) and the `BuildEvents` and `Judge` shards (`ShardSet`: only the sub-keys a flush changed go to the
fold's log).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import apache_beam as beam

from pipeline.alerting import AlertRules, judge_step
from pipeline.alerting_settle import SETTLE_KEY, NewsIndex, Pending, SettleStep
from pipeline.merge import EVENT_SHARDS, STORY_KEY, build_step
from pipeline.merge_build import Latest
from pipeline.merge_match import MergeSettings
from pipeline.merge_order import DEFAULT_TICK_MICROS, OrderedFold
from pipeline.merge_story import AssignStep, StoryIndex
from pipeline.shards import ShardedStep, ShardSet, group_by_shard
from schemas.records import Alert, CanonicalEvent, EventMention

EVENT, ALERT = "event", "alert"


@dataclass
class MergeAlertState:
    """The story index, the news index and the event and alert shards; which of the first two the last run
    changed (not pickled)."""

    stories: StoryIndex | None = None
    news: NewsIndex | None = None
    shards: ShardSet = field(default_factory=ShardSet)
    changed: set[str] = field(default_factory=set)

    def __getstate__(self):
        return {"stories": self.stories, "news": self.news, "shards": self.shards}

    def __setstate__(self, saved):
        self.__dict__.update(saved, changed=set())


@dataclass(frozen=True)
class LiveMergeAlertStep:
    """EventMention → ("event", each changed event's latest state) and ("alert", Alert), as `MergeEvents` then
    `RaiseAlerts` give them; see the module docstring."""

    rules: AlertRules
    settings: MergeSettings = field(default_factory=MergeSettings)
    event_shards: int = EVENT_SHARDS
    namespace: str = "merge"

    @cached_property
    def assign(self) -> AssignStep:
        return AssignStep(self.settings)

    @cached_property
    def build(self) -> ShardedStep:
        return build_step(self.settings)

    @cached_property
    def judge(self) -> ShardedStep:
        return judge_step(self.rules)

    @cached_property
    def settle(self) -> SettleStep:
        return SettleStep()

    def order_key(self, mention: EventMention):
        return self.assign.order_key(mention)

    def run(self, key: str, state: MergeAlertState | None, values: list[EventMention]):
        held = state if state is not None else MergeAlertState()
        held.changed, held.shards.touched = set(), set()
        held.stories, placed = self.assign.run(STORY_KEY, held.stories, values)
        held.changed.add("stories")
        out: list[tuple[str, Any]] = []
        revisions = []
        for shard, items in sorted(group_by_shard(placed, _event_id, self.event_shards, "v").items()):
            for item in held.shards.run("build", self.build, shard, sorted(items, key=self.build.order_key)):
                (out.append((EVENT, item.event)) if isinstance(item, Latest) else revisions.append(item))
        pending = []
        for shard, items in sorted(group_by_shard(revisions, _event_id, self.event_shards, "a").items()):
            for item in held.shards.run("judge", self.judge, shard, sorted(items, key=self.judge.order_key)):
                (pending.append(item) if isinstance(item, Pending) else out.append((ALERT, item)))
        if pending:
            held.news, settled = self.settle.run(SETTLE_KEY, held.news, sorted(pending, key=self.settle.order_key))
            held.changed.add("news")
            out.extend((ALERT, alert) for alert in settled)
        return held, out

    def _steps(self) -> dict[str, ShardedStep]:
        return {"build": self.build, "judge": self.judge}

    def take_changes(self, held: MergeAlertState) -> dict[str, Any]:
        changes: dict[str, Any] = {name: getattr(held, name) for name in held.changed}
        changes["shards"] = held.shards.take_changes(self._steps())
        held.changed = set()
        return changes

    def apply_changes(self, held: MergeAlertState | None, changes: dict[str, Any]) -> MergeAlertState:
        held = held if held is not None else MergeAlertState()
        for name in ("stories", "news"):
            if name in changes:
                setattr(held, name, changes[name])
        held.shards.apply_changes(self._steps(), changes["shards"])
        held.changed = set()
        return held


def _event_id(item) -> str:
    return item.event_id


class MergeAndAlert(beam.PTransform):
    """EventMention → {"events": CanonicalEvent (latest states), "alerts": Alert} through one fold on one key
    (`LiveMergeAlertStep`): what `MergeEvents` and then `RaiseAlerts` give."""

    def __init__(self, rules: AlertRules, settings: MergeSettings | None = None,
                 tick_micros: int = DEFAULT_TICK_MICROS):
        super().__init__()
        self.step = LiveMergeAlertStep(rules, settings or MergeSettings())
        self.tick_micros = tick_micros

    def expand(self, mentions):
        tagged = (
            mentions
            | "OneKey" >> beam.Map(lambda m: (STORY_KEY, m)).with_output_types(tuple[str, EventMention])
            | "MergeAndAlert" >> OrderedFold(self.step, self.tick_micros)
            | "Split" >> beam.Partition(lambda item, _: int(item[0] == ALERT), 2)
        )
        events = tagged[0] | "Events" >> beam.Map(lambda item: item[1]).with_output_types(CanonicalEvent)
        alerts = tagged[1] | "Alerts" >> beam.Map(lambda item: item[1]).with_output_types(Alert)
        return {"events": events, "alerts": alerts}
