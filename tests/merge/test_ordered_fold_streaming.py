"""OrderedFoldFn on Prism with TestStream: flush per tick in (timestamp, order) order whatever the arrival order,
late elements processed with the next flush (and counted), sharded sub-keys independent and pruned by time."""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing import test_stream
from apache_beam.transforms.window import TimestampedValue

from pipeline.merge_order import OrderedFoldFn, next_tick, ready_in_order
from pipeline.shards import ShardedStep, shard_of

pytestmark = pytest.mark.runner
TICK = 10_000_000  # 10 s


@dataclass(frozen=True)
class RecordFlushes:
    """A step that outputs, per flush, the values it got and how many flushes the key had before."""

    namespace: str = "test"

    def order_key(self, value):
        return value

    def run(self, key, state, values):
        seen = state or 0
        return seen + 1, [f"{key}|flush{seen}|{','.join(values)}"]


class Fold(beam.PTransform):
    def __init__(self, step, cache=True):
        super().__init__()
        self.step = step
        self.cache = cache

    def expand(self, pcoll):
        return (pcoll
                | "Typed" >> beam.Map(lambda kv: kv).with_output_types(tuple[str, str])
                | "Fold" >> beam.ParDo(OrderedFoldFn(self.step, TICK, cache=self.cache)))


def stamped(key, value, seconds):
    return TimestampedValue((key, value), seconds)


def test_next_tick_and_ready_split_are_pure():
    assert next_tick(0, TICK) == TICK and next_tick(TICK - 1, TICK) == TICK and next_tick(TICK, TICK) == 2 * TICK
    ready, rest = ready_in_order([(25, "b", 1), (5, "z", 2), (5, "a", 3), (30, "c", 4)], 26)
    assert [item[2] for item in ready] == [3, 2, 1] and [item[2] for item in rest] == [4]


def test_values_are_folded_per_tick_in_timestamp_then_order_key_order(prism):
    stream = (test_stream.TestStream()
              .add_elements([stamped("k", "late-ts-b", 8), stamped("k", "a", 2), stamped("k", "early-ts-z", 1)])
              .add_elements([stamped("k", "next-tick", 12)])
              .advance_watermark_to(30)
              .advance_watermark_to_infinity())
    out = prism(stream, Fold(RecordFlushes()))
    assert out == ["'k|flush0|early-ts-z,a,late-ts-b'", "'k|flush1|next-tick'"]


def test_arrival_order_and_watermark_steps_change_nothing(prism):
    values = [("k", "v1", 3), ("k", "v2", 3), ("j", "w", 4), ("k", "v3", 15)]
    one_go = test_stream.TestStream().add_elements([stamped(*v) for v in values]).advance_watermark_to_infinity()
    drip = test_stream.TestStream()
    for v in reversed(values):
        drip = drip.add_elements([stamped(*v)])
    drip = drip.advance_watermark_to(2).advance_watermark_to_infinity()
    assert prism(one_go, Fold(RecordFlushes())) == prism(drip, Fold(RecordFlushes()))


def test_a_late_element_is_folded_with_the_next_flush_and_counted(prism):
    stream = (test_stream.TestStream()
              .add_elements([stamped("k", "on-time", 5)])
              .advance_watermark_to(25)  # flushes tick 10
              .add_elements([stamped("k", "late", 6), stamped("k", "later-on-time", 26)])
              .advance_watermark_to_infinity())
    out = prism(stream, Fold(RecordFlushes()))
    assert out[0] == "'k|flush0|on-time'"
    # the late element comes after the flush it missed, never before, and never lost
    assert out[1:] in (["'k|flush1|late'", "'k|flush2|later-on-time'"], ["'k|flush1|late,later-on-time'"])
    counters = prism.last_result.metrics().query(MetricsFilter().with_name("late"))["counters"]
    assert sum(c.committed or c.attempted or 0 for c in counters) == 1


def _split(value):
    return value.split(":")[0], value


def _no_clock(_state):
    return None


def test_sub_keys_folded_in_one_shard_keep_their_own_state_and_order(prism):
    step = ShardedStep(RecordFlushes(), _split, _no_clock, horizon_micros=10**12)
    stream = (test_stream.TestStream()
              .add_elements([stamped("s", "b:2", 3), stamped("s", "a:1", 3), stamped("s", "b:1", 2)])
              .add_elements([stamped("s", "a:2", 14)])
              .advance_watermark_to_infinity())
    out = prism(stream, Fold(step))
    assert out == ["'a|flush0|a:1'", "'a|flush1|a:2'", "'b|flush0|b:1,b:2'"]
    assert shard_of("a", 64) == shard_of("a", 64) and shard_of("a", 64, "x").startswith("x")


def _log_reads(prism):
    counters = prism.last_result.metrics().query(MetricsFilter().with_name("state_log_reads"))["counters"]
    return sum(c.committed or c.attempted or 0 for c in counters)


def test_a_state_read_back_from_its_log_folds_as_the_cached_one(prism):
    """With the process cache off every flush rebuilds the shard from the runner's state (snapshot + change
    sets); the outputs must be the same as with the cache, which on one SDK harness never reads the log."""
    step = ShardedStep(RecordFlushes(), _split, _no_clock, horizon_micros=10**12)

    def ticks():
        stream = test_stream.TestStream()
        for tick in range(6):
            stream = stream.add_elements([stamped("s", f"{k}:{tick}", tick * 10 + 1) for k in "abc"[: 1 + tick % 3]])
            stream = stream.advance_watermark_to(tick * 10 + 10)
        return stream.advance_watermark_to_infinity()

    cached = prism(ticks(), Fold(step))
    assert _log_reads(prism) == 0
    uncached = prism(ticks(), Fold(step, cache=False))
    assert _log_reads(prism) == 5  # every flush of the key but its first
    assert uncached == cached and len(cached) == 12


def _clock(state):
    return state * 1_000_000 if state else None


@dataclass(frozen=True)
class KeepTime:
    """Sub-state: the latest value (an article time in seconds)."""

    namespace: str = "test"

    def order_key(self, value):
        return value

    def run(self, key, state, values):
        return max(int(v.split(":")[1]) for v in values), []


def test_a_shard_drops_sub_keys_whose_article_time_is_past_the_horizon():
    step = ShardedStep(KeepTime(), _split, _clock, horizon_micros=100 * 1_000_000)
    state, _ = step.run("s", None, ["old:10", "new:50"])
    assert state.states == {"old": 10, "new": 50}
    state, _ = step.run("s", state, ["new:150"])  # 'old' is 140 s behind the shard's newest: dropped
    assert state.states == {"new": 150}
