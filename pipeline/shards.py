"""Many small keys folded inside a few shard keys: `ShardedStep` (one step's sub-keys inside one shard key) and
`ShardSet` (the shards of several such steps held under one key, the "single" state layout).

Sub-keys (article ids, band buckets, event ids) are independent, so folding them inside shards changes no
result; it bounds the number of keys a runner sees (each costs it a timer and state reads). Both record what
a run changed, so `pipeline.merge_order.OrderedFoldFn` appends only that to a key's state log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


def shard_of(sub_key: str, shards: int, prefix: str = "") -> str:
    """A stable shard name for `sub_key` (blake2b, not Python's per-process salted hash)."""
    digest = hashlib.blake2b(sub_key.encode("utf-8"), digest_size=8).digest()
    return f"{prefix}{int.from_bytes(digest, 'little') % shards:04d}"


def group_by_shard(items: Iterable[Any], sub_key: Callable[[Any], str], shards: int, prefix: str) -> dict[str, list]:
    """Items by the shard of their sub-key (`shard_of`), each shard's items in their given order."""
    grouped: dict[str, list] = {}
    for item in items:
        grouped.setdefault(shard_of(sub_key(item), shards, prefix), []).append(item)
    return grouped


@dataclass
class Shard:
    """The state of one shard key: each sub-key's state and article-time clock, the newest clock, and what the
    last run changed (sub-key → its new state, None when dropped; not pickled)."""

    states: dict[str, Any] = field(default_factory=dict)
    clocks: dict[str, int | None] = field(default_factory=dict)
    newest: int | None = None
    changed: dict[str, Any] = field(default_factory=dict)

    def __getstate__(self):
        return {"states": self.states, "clocks": self.clocks, "newest": self.newest}

    def __setstate__(self, saved):
        self.__dict__.update(saved, changed={})

    def put(self, sub_key: str, sub_state: Any, clock: int | None) -> bool:
        """Set (or drop, when `sub_state` is None) one sub-key; True when the newest clock may have fallen."""
        old = self.clocks.pop(sub_key, None)
        self.states.pop(sub_key, None)
        if sub_state is not None:
            self.states[sub_key] = sub_state
            self.clocks[sub_key] = clock
            if clock is not None and (self.newest is None or clock > self.newest):
                self.newest = clock
        self.changed[sub_key] = sub_state
        return old is not None and old == self.newest and (sub_state is None or clock is None or clock < old)

    def recount_newest(self) -> None:
        self.newest = max((c for c in self.clocks.values() if c is not None), default=None)


@dataclass(frozen=True)
class ShardedStep:
    """Runs `step` for each sub-key (article id, band bucket, event id) inside one shard key.

    Sub-keys are independent, so folding them inside shards changes no result; it bounds the number of keys
    (each costs the runner a timer and state reads) and lets the shard drop a sub-key's state when its
    article-time clock (`clock(sub_state)`) is `horizon_micros` behind the newest the shard holds: no
    per-sub-key clean-up timer is needed. `split(value)` gives (sub-key, the value the step expects).

    The state is a `Shard`, changed in place; it records which sub-keys a run changed (`take_changes`), so the
    unbounded fold writes only those (`record`) and a reader rebuilds the shard with `apply_changes`.
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

    def run(self, key: str, state: Shard | None, values: list[Any]):
        shard = state if state is not None else Shard()
        shard.changed = {}
        grouped: dict[str, list[Any]] = {}
        for value in values:
            sub_key, inner = self.split(value)
            grouped.setdefault(sub_key, []).append(inner)
        outputs: list[Any] = []
        before, fell = shard.newest, False
        for sub_key in sorted(grouped):
            sub_state, sub_out = self.step.run(sub_key, shard.states.get(sub_key), grouped[sub_key])
            fell |= shard.put(sub_key, sub_state, None if sub_state is None else self.clock(sub_state))
            outputs.extend(sub_out)
        if fell:
            shard.recount_newest()
        if shard.newest is not None:  # all sub-keys when the newest clock moved, else only those just set
            candidates = shard.clocks if shard.newest != before else grouped
            expired = [k for k in candidates if (c := shard.clocks.get(k)) is not None
                       and shard.newest - c > self.horizon_micros]
            for sub_key in expired:
                shard.put(sub_key, None, None)
        return (shard if shard.states else None), outputs

    def take_changes(self, shard: Shard) -> dict[str, Any]:
        """What the last run changed (sub-key → new state, None when dropped), for the fold's state log."""
        changes, shard.changed = shard.changed, {}
        return changes

    def apply_changes(self, shard: Shard | None, changes: dict[str, Any]) -> Shard:
        shard = shard if shard is not None else Shard()
        for sub_key, sub_state in changes.items():
            shard.put(sub_key, sub_state, None if sub_state is None else self.clock(sub_state))
        shard.recount_newest()
        shard.changed = {}
        return shard

    def finish(self, key: str, state: Shard | None) -> list[Any]:
        """The inner step's `finish` for every sub-key still held (nothing when the step has none)."""
        end = getattr(self.step, "finish", None)
        if end is None or state is None:
            return []
        return [output for sub_key in sorted(state.states) for output in end(sub_key, state.states[sub_key])]


@dataclass
class ShardSet:
    """The states of several `ShardedStep`s held under one key: {(step name, shard name): Shard}, and which
    shards the last run touched (not pickled)."""

    shards: dict[tuple[str, str], Any] = field(default_factory=dict)
    touched: set[tuple[str, str]] = field(default_factory=set)

    def __getstate__(self):
        return {"shards": self.shards}

    def __setstate__(self, saved):
        self.__dict__.update(saved, touched=set())

    def run(self, name: str, step: Any, shard: str, values: list[Any]) -> list[Any]:
        """Run `step` on one of its shards, as `OrderedFold` would on that shard's key; its outputs."""
        new, outputs = step.run(shard, self.shards.get((name, shard)), values)
        if new is None:
            self.shards.pop((name, shard), None)
        else:
            self.shards[(name, shard)] = new
        self.touched.add((name, shard))
        return outputs

    def take_changes(self, steps: dict[str, ShardedStep]) -> dict[tuple[str, str], Any]:
        """What the last runs changed, shard by shard (`ShardedStep.take_changes`; None for a dropped shard)."""
        changes = {name: (steps[name[0]].take_changes(self.shards[name]) if name in self.shards else None)
                   for name in self.touched}
        self.touched = set()
        return changes

    def apply_changes(self, steps: dict[str, ShardedStep], changes: dict[tuple[str, str], Any]) -> None:
        for name, change in changes.items():
            if change is None:
                self.shards.pop(name, None)
            else:
                self.shards[name] = steps[name[0]].apply_changes(self.shards.get(name), change)
        self.touched = set()
