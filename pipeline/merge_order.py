"""Keyed ordered fold: (key, value) → outputs of a pure `FoldStep`, run on each key's values in a fixed order.

Why: the result of near-duplicate detection and event merging depends on which article came first. Beam
delivers elements in bundles whose boundaries and order vary between runs and runners, so the DoFn never acts
on arrival. It buffers each value in bag state with its element timestamp and sets an event-time timer at the
next tick boundary after it. When the watermark passes the tick, every buffered value with a timestamp before
the tick is complete (no on-time element can still arrive), and they are handed to the step sorted by
(element timestamp, step.order_key(value)). Sorting by timestamp first makes the result the same as if each
timestamp were processed alone, so tick size, bundle boundaries and arrival order change nothing: the outputs
are a function of the timestamped input only. In a bounded replay every element has the same (minimum)
timestamp and the order is the step's own (article time, then id). In the streaming job the timestamps are
the Kafka record times, which re-reading a topic gives back unchanged.

Limit: an element that arrives behind the watermark (late) is processed with the next tick, after values with
later timestamps; this is counted (`<namespace>.late`) and is the only way arrival order can leak into results.

State per key: the pending bag (emptied at each flush) and one pickled value holding the step's state and a
small `Meta` (the last flush). There is no clean-up timer: keys are a fixed set of shards (`ShardedStep`
folds the many real sub-keys, article ids, band buckets, event ids, inside them), and steps bound their state
by article time, which moves only with the data. Few keys also matter on Prism, where every key with a timer
costs a bundle: the gold replay takes 8 s instead of 20 s with one key per sub-key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp

DEFAULT_TICK_MICROS = 100_000
DAY_MICROS = 86_400 * 1_000_000


class FoldStep(Protocol):
    """A pure fold over one key's values: (state, ordered values) → (new state or None to drop it, outputs)."""

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
    with the tick: arming it again is a no-op, and no timer is ever moved or re-armed from its callback, the
    timer uses Prism 2.62 gets wrong, apache/beam#35090). A flush reads the bag and the step state once.
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
