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

State per key (unbounded): the pending bag (the buffered values, emptied at each flush, and a small `Meta`:
the last flush, the token of the latest state, the log's sizes) and the step state's log (a pickled snapshot,
then the change sets of later flushes, compacted when they outweigh it; `record`, `restore`). A flush makes
one state read, the pending bag: the step state comes from a process-wide cache of decoded states when the
token matches, and only what a `ShardedStep` changed is written. Before, each flush read and wrote its shard's
whole pickled state, and the streaming job slowed as the dedup horizon filled (docs/benchmarks.md, state). The
cache holds every key's decoded state the process flushed last: memory for a read saved. There is no clean-up
timer: keys are a fixed set of shards (`pipeline.shards.ShardedStep` folds the many real sub-keys, article ids,
band buckets, event ids, inside them), and steps bound their state by article time, which moves only with the
data. Few keys also matter on Prism, where every key with a timer costs a bundle: the gold replay takes 8 s
instead of 20 s with one key per sub-key."""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any, Protocol

import apache_beam as beam
from apache_beam.coders import BytesCoder, PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, TimerSpec, on_timer
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
    """Bookkeeping of one key: the last flush (micros), to count late elements; the token of the latest state
    written (a process that cached the state under this token may use its copy); and the pickled bytes of the
    log's snapshot and of the change sets written after it."""

    flushed: int | None = None
    token: bytes = b""
    snapshot_bytes: int = 0
    change_bytes: int = 0


COMPACT_MIN_BYTES = 64 * 1024
SNAPSHOT, CHANGES = "snapshot", "changes"


def restore(step: FoldStep, log: Iterable[bytes]) -> Any:
    """The step state a key's log holds: its snapshot, then each change set in order (None for an empty log)."""
    state = None
    for blob in log:
        kind, payload = pickle.loads(blob)
        state = payload if kind == SNAPSHOT else step.apply_changes(state, payload)
    return state


def record(step: FoldStep, state: Any, meta: Meta) -> tuple[bool, bytes | None, Meta]:
    """How to write `state` (just folded) to the key's log: (replace the log?, the entry to add, new sizes).

    A step that reports what it changed (`take_changes`, as `ShardedStep` does) appends only that; the log is
    compacted into one snapshot once its change sets outweigh the snapshot (and `COMPACT_MIN_BYTES`), so a
    flush writes bytes in proportion to what it changed, and reading a log back costs at most about twice its
    snapshot. Other steps' states are written whole each time. The token is left to the caller."""
    changes = step.take_changes(state) if hasattr(step, "take_changes") and state is not None else None
    if state is None:
        return True, None, replace(meta, snapshot_bytes=0, change_bytes=0)
    if changes is not None and meta.snapshot_bytes:
        blob = pickle.dumps((CHANGES, changes), protocol=pickle.HIGHEST_PROTOCOL)
        if meta.change_bytes + len(blob) <= max(meta.snapshot_bytes, COMPACT_MIN_BYTES):
            return False, blob, replace(meta, change_bytes=meta.change_bytes + len(blob))
    blob = pickle.dumps((SNAPSHOT, state), protocol=pickle.HIGHEST_PROTOCOL)
    return True, blob, replace(meta, snapshot_bytes=len(blob), change_bytes=0)


def split_pending(entries: Iterable[Any]) -> tuple[Meta, list[tuple[int, Hashable, Any]]]:
    """The pending bag's entries → (the key's `Meta`, kept in the same bag so a flush makes one state read; the
    buffered (timestamp, order key, value) items)."""
    meta, items = Meta(), []
    for entry in entries:
        if isinstance(entry, Meta):
            meta = entry
        else:
            items.append(entry)
    return meta, items


PENDING = BagStateSpec("pending", PickleCoder())  # buffered (ts, order key, value) items and the key's Meta
LOG = BagStateSpec("log", BytesCoder())  # the step state: a pickled snapshot, then pickled change sets
FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)
_PENDING, _LOG, _FLUSH = beam.DoFn.StateParam(PENDING), beam.DoFn.StateParam(LOG), beam.DoFn.TimerParam(FLUSH)

# Decoded step states by fold and key, for the keys this process flushed last: {fold id: {key: (token, state)}}.
_DECODED: dict[str, dict[str, tuple[bytes, Any]]] = {}


class OrderedFoldFn(beam.DoFn):
    """(key, value) → step outputs, in (timestamp, order key) order per key; see the module docstring.

    `process` only appends to the bag and arms the flush timer of the element's tick (a dynamic timer tagged
    with the tick: arming it again is a no-op, and no timer is ever moved or re-armed from its callback). A
    flush reads the bag, which also holds the key's small `Meta` (one state read per flush); the step state
    comes from this process's cache of decoded states when the token matches (the runner's state is the truth:
    after a failed bundle, a restart or a key that moved to another worker the token differs and the log is
    read back), and only what the step changed is appended to the log (`record`). On Prism 2.62 a timer fires
    with the key's next bundle even before the watermark passes it (apache/beam#35090): what arrives later for
    that tick is counted late.
    """

    def __init__(self, step: FoldStep, tick_micros: int = DEFAULT_TICK_MICROS, cache: bool = True):
        self.step = step
        self.tick_micros = tick_micros
        self.cache = cache
        self.fold_id = uuid.uuid4().hex  # pickled with the graph: the same in every copy of this DoFn
        self.late = Metrics.counter(step.namespace, "late")
        self.reads = Metrics.counter(step.namespace, "state_log_reads")

    def process(self, keyed, ts=beam.DoFn.TimestampParam, pending=_PENDING, flush=_FLUSH):
        _, value = keyed
        pending.add((ts.micros, self.step.order_key(value), value))
        due = next_tick(ts.micros, self.tick_micros)
        flush.set(Timestamp(micros=due), dynamic_timer_tag=str(due))
        return []

    def _state(self, key: str, meta: Meta, log) -> Any:
        if not meta.token:
            return None
        cached = _DECODED.get(self.fold_id, {}).get(key) if self.cache else None
        if cached is not None and cached[0] == meta.token:
            return cached[1]
        self.reads.inc()
        return restore(self.step, log.read())

    @on_timer(FLUSH)
    def on_flush(self, key=beam.DoFn.KeyParam, fire=beam.DoFn.TimestampParam, pending=_PENDING, log=_LOG):
        meta, items = split_pending(pending.read())
        ready, rest = ready_in_order(items, fire.micros)
        if not ready:
            return
        pending.clear()
        for item in rest:
            pending.add(item)
        if meta.flushed is not None:
            late = sum(1 for item in ready if item[0] < meta.flushed)
            if late:
                self.late.inc(late)
        step_state, outputs = self.step.run(key, self._state(key, meta, log), [item[2] for item in ready])
        renew, entry, meta = record(self.step, step_state, meta)
        if renew:
            log.clear()
        if entry is not None:
            log.add(entry)
        token = uuid.uuid4().bytes if step_state is not None else b""
        pending.add(replace(meta, flushed=max(fire.micros, meta.flushed or fire.micros), token=token))
        if self.cache:
            _DECODED.setdefault(self.fold_id, {})[key] = (token, step_state)
        yield from outputs

    def teardown(self):
        _DECODED.pop(self.fold_id, None)


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
