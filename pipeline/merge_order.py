"""Keyed ordered fold: (key, value) → outputs of a pure `FoldStep`, run on each key's values in a fixed order.

Why: the result of near-duplicate detection and event merging depends on which article came first. Beam
delivers elements in bundles whose boundaries and order vary between runs and runners, so no step acts on
arrival: each key's values are handed to the step sorted by (element timestamp, step.order_key(value)), one
tick of event time at a time (`fold_in_ticks`). Sorting by timestamp first makes the result the same as if
each timestamp were processed alone, so tick size, bundle boundaries and arrival order change nothing: the
outputs are a function of the timestamped input only, and leave with the timestamp of their tick. In a bounded
replay every element has the same (minimum) timestamp and the order is the step's own (article time, then
id). In the streaming job the timestamps are the Kafka record times, which re-reading a topic gives back.

`OrderedFold` picks one of two equivalent implementations by the boundedness of its input:

- Bounded (replay, batch tests): `GroupByKey`, then `fold_in_ticks` over each key's values and, at the end of
  the input, the step's optional `finish(key, state)` (what could not be completed is still emitted). No user
  state or timers: Prism 2.62 splits a slow bundle of a stateful stage and runs the residual without the keys'
  state and without owning the keys, then overwrites their state on commit (apache/beam#35771; later Prism
  splits only splittable DoFns). Replays of the feed archive lost 1,281 to 3,449 of its 48,995 articles that
  way, a different number each run. A grouped key is one element, so a split never cuts through a key.
- Unbounded (the streaming job): `OrderedFoldFn` buffers each value in bag state with its element timestamp
  and sets an event-time timer at the next tick boundary; when the watermark passes the tick the values before
  it are complete and folded. Limit: an element that arrives behind the watermark (late) is processed with the
  next tick, after values with later timestamps; this is counted (`<namespace>.late`) and is the only way
  arrival order can leak into results. `finish` is not called here (there is no end of input, and Prism 2.62
  fires an event-time timer at the key's next bundle, not when the watermark passes it: apache/beam#35090).

State per key (unbounded): the pending bag (emptied at each flush) and one pickled value holding the step's
state and a small `Meta` (the last flush). There is no clean-up timer: keys are a fixed set of shards
(`ShardedStep` folds the many real sub-keys, article ids, band buckets, event ids, inside them), and steps
bound their state by article time, which moves only with the data. Few keys also matter on Prism, where every
key with a timer costs a bundle: the gold replay takes 8 s instead of 20 s with one key per sub-key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Protocol

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

DEFAULT_TICK_MICROS = 100_000
DAY_MICROS = 86_400 * 1_000_000


class FoldStep(Protocol):
    """A pure fold over one key's values: (state, ordered values) → (new state or None to drop it, outputs).

    A step may also define `finish(key, state) -> outputs`, called once per key with its final state when a
    bounded input is exhausted: the place to emit what is still waiting (it must not drop it).
    """

    namespace: str

    def order_key(self, value: Any) -> Hashable: ...

    def run(self, key: str, state: Any, values: list[Any]) -> tuple[Any, Iterable[Any]]: ...


def next_tick(micros: int, tick: int) -> int:
    """The first tick boundary strictly after `micros`."""
    return (micros // tick + 1) * tick


def ready_in_order(pending: Iterable[tuple[int, Hashable, Any]], fire_micros: int):
    """Split buffered (ts, order key, value) into those before `fire_micros` (sorted) and the rest."""
    ready, rest = [], []
    for item in pending:
        (ready if item[0] < fire_micros else rest).append(item)
    ready.sort(key=lambda item: (item[0], item[1]))
    return ready, rest


def fold_in_ticks(step: FoldStep, key: str, stamped: Iterable[tuple[int, Any]], tick: int):
    """One key's (timestamp micros, value) → (tick, outputs) per tick, as the timers flush them: values sorted by
    (timestamp, order key), folded one tick at a time; then `step.finish` on the final state (if any)."""
    items = sorted(((ts, step.order_key(value), value) for ts, value in stamped), key=lambda item: (item[0], item[1]))
    state, due = None, None
    for due, group in groupby(items, key=lambda item: next_tick(item[0], tick)):
        state, outputs = step.run(key, state, [item[2] for item in group])
        yield due, list(outputs)
    end = getattr(step, "finish", None)
    if end is not None and state is not None:
        yield due, list(end(key, state))


@dataclass(frozen=True)
class Meta:
    """Bookkeeping of one key: the last flush (micros), to count late elements."""

    flushed: int | None = None


PENDING = BagStateSpec("pending", PickleCoder())
STATE = ReadModifyWriteStateSpec("state", PickleCoder())  # (step state, Meta)
FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)
_PENDING, _STATE, _FLUSH = beam.DoFn.StateParam(PENDING), beam.DoFn.StateParam(STATE), beam.DoFn.TimerParam(FLUSH)


class OrderedFoldFn(beam.DoFn):
    """(key, value) → step outputs, in (timestamp, order key) order per key; see the module docstring.

    `process` only appends to the bag and arms the flush timer of the element's tick (a dynamic timer tagged
    with the tick: arming it again is a no-op, and no timer is ever moved or re-armed from its callback). A
    flush reads the bag and the step state once. On Prism 2.62 a timer fires with the key's next bundle even
    before the watermark passes it (apache/beam#35090): what arrives later for that tick is counted late.
    """

    def __init__(self, step: FoldStep, tick_micros: int = DEFAULT_TICK_MICROS):
        self.step = step
        self.tick_micros = tick_micros
        self.late = Metrics.counter(step.namespace, "late")

    def process(self, keyed, ts=beam.DoFn.TimestampParam, pending=_PENDING, flush=_FLUSH):
        _, value = keyed
        pending.add((ts.micros, self.step.order_key(value), value))
        due = next_tick(ts.micros, self.tick_micros)
        flush.set(Timestamp(micros=due), dynamic_timer_tag=str(due))
        return []

    @on_timer(FLUSH)
    def on_flush(self, key=beam.DoFn.KeyParam, fire=beam.DoFn.TimestampParam, pending=_PENDING, state=_STATE):
        ready, rest = ready_in_order(pending.read(), fire.micros)
        if not ready:
            return
        pending.clear()
        for item in rest:
            pending.add(item)
        step_state, meta = state.read() or (None, Meta())
        if meta.flushed is not None:
            late = sum(1 for item in ready if item[0] < meta.flushed)
            if late:
                self.late.inc(late)
        step_state, outputs = self.step.run(key, step_state, [item[2] for item in ready])
        state.write((step_state, Meta(flushed=max(fire.micros, meta.flushed or fire.micros))))
        yield from outputs


class StampFn(beam.DoFn):
    """(key, value) → (key, (element timestamp in micros, value)): the timestamp survives the grouping."""

    def process(self, keyed, ts=beam.DoFn.TimestampParam):
        yield keyed[0], (ts.micros, keyed[1])


class FoldGroupFn(beam.DoFn):
    """(key, [(timestamp, value)]) → the step's outputs (`fold_in_ticks`), each stamped with its tick."""

    def __init__(self, step: FoldStep, tick_micros: int = DEFAULT_TICK_MICROS):
        self.step = step
        self.tick_micros = tick_micros

    def process(self, grouped):
        key, stamped = grouped
        for due, outputs in fold_in_ticks(self.step, key, stamped, self.tick_micros):
            for output in outputs:
                yield TimestampedValue(output, Timestamp(micros=due))


class OrderedFold(beam.PTransform):
    """(key, value) → step outputs, in (timestamp, order key) order per key: grouped when the input is bounded,
    `OrderedFoldFn` (bag state and timers) when it is not; see the module docstring."""

    def __init__(self, step: FoldStep, tick_micros: int = DEFAULT_TICK_MICROS):
        super().__init__()
        self.step = step
        self.tick_micros = tick_micros

    def expand(self, keyed):
        if not keyed.is_bounded:
            return keyed | "Fold" >> beam.ParDo(OrderedFoldFn(self.step, self.tick_micros))
        return (
            keyed
            | "Stamp" >> beam.ParDo(StampFn()).with_output_types(tuple[str, tuple[int, Any]])
            | "Group" >> beam.GroupByKey()
            | "Fold" >> beam.ParDo(FoldGroupFn(self.step, self.tick_micros))
        )


# ---------------------------------------------------------------- many small keys folded inside a few shards

def shard_of(sub_key: str, shards: int, prefix: str = "") -> str:
    """A stable shard name for `sub_key` (blake2b, not Python's per-process salted hash)."""
    digest = hashlib.blake2b(sub_key.encode("utf-8"), digest_size=8).digest()
    return f"{prefix}{int.from_bytes(digest, 'little') % shards:04d}"


@dataclass(frozen=True)
class ShardedStep:
    """Runs `step` for each sub-key (article id, band bucket, event id) inside one shard key.

    Sub-keys are independent, so folding them inside shards changes no result; it bounds the number of keys
    (each costs the runner a timer and state reads) and lets the shard drop a sub-key's state when its
    article-time clock (`clock(sub_state)`) is `horizon_micros` behind the newest the shard has seen: no
    per-sub-key clean-up timer is needed. `split(value)` gives (sub-key, the value the step expects).
    """

    step: Any
    split: Callable[[Any], tuple[str, Any]]
    clock: Callable[[Any], int | None]
    horizon_micros: int

    @property
    def namespace(self) -> str:
        return self.step.namespace

    def order_key(self, value: Any):
        sub_key, inner = self.split(value)
        return (self.step.order_key(inner), sub_key)

    def run(self, key: str, state: dict | None, values: list[Any]):
        states = dict(state or {})
        grouped: dict[str, list[Any]] = {}
        for value in values:
            sub_key, inner = self.split(value)
            grouped.setdefault(sub_key, []).append(inner)
        outputs: list[Any] = []
        for sub_key in sorted(grouped):
            sub_state, sub_out = self.step.run(sub_key, states.get(sub_key), grouped[sub_key])
            if sub_state is None:
                states.pop(sub_key, None)
            else:
                states[sub_key] = sub_state
            outputs.extend(sub_out)
        clocks = {k: self.clock(v) for k, v in states.items()}
        newest = max((c for c in clocks.values() if c is not None), default=None)
        if newest is not None:
            states = {k: v for k, v in states.items() if clocks[k] is None or newest - clocks[k] <= self.horizon_micros}
        return (states or None), outputs

    def finish(self, key: str, state: dict | None) -> list[Any]:
        """The inner step's `finish` for every sub-key still held (nothing when the step has none)."""
        end = getattr(self.step, "finish", None)
        if end is None or not state:
            return []
        return [output for sub_key in sorted(state) for output in end(sub_key, state[sub_key])]
