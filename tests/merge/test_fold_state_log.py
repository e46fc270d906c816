"""The ordered fold's state log (`record`, `restore`) and `ShardedStep`'s in-place shard: pure functions.

A flush appends only the sub-keys it changed; reading the log back must give the state the fold holds in
memory, whatever the mix of snapshots and change sets, and the log must stay within about twice its snapshot.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipeline.merge_order import COMPACT_MIN_BYTES, SNAPSHOT, Meta, record, restore
from pipeline.shards import ShardedStep

HORIZON = 50


@dataclass(frozen=True)
class Collect:
    """Sub-state: the values seen (a tuple of article times); a value of -1 drops the sub-key."""

    namespace: str = "test"

    def order_key(self, value):
        return value

    def run(self, key, state, values):
        times = tuple(state or ()) + tuple(values)
        return (None if any(t < 0 for t in times) else times), [(key, len(times))]


def _split(value):
    return value


def _clock(times):
    return max(times)


def reference_run(states: dict, values: list, step: Collect):
    """ShardedStep's rule written plainly: run each sub-key, then drop those `HORIZON` behind the newest."""
    states = dict(states)
    grouped: dict = {}
    for sub_key, t in values:
        grouped.setdefault(sub_key, []).append(t)
    for sub_key in sorted(grouped):
        new = step.run(sub_key, states.get(sub_key), grouped[sub_key])[0]
        states.pop(sub_key, None) if new is None else states.__setitem__(sub_key, new)
    newest = max((_clock(s) for s in states.values()), default=None)
    return {k: s for k, s in states.items() if newest is None or newest - _clock(s) <= HORIZON}


def test_the_log_read_back_equals_the_shard_held_in_memory_after_every_flush():
    rng = random.Random(11)
    step = ShardedStep(Collect(), _split, _clock, HORIZON)
    shard, meta, log, expected, kinds = None, Meta(), [], {}, []
    now = 0
    for _ in range(400):
        now += rng.randint(0, 3)
        values = [(f"k{rng.randint(0, 40)}", max(0, now - rng.randint(0, 60))) for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.05:
            values.append((f"k{rng.randint(0, 40)}", -1))
        expected = reference_run(expected, values, Collect())
        shard, _ = step.run("s", shard, values)
        assert (shard.states if shard else {}) == expected
        renew, entry, meta = record(step, shard, meta)
        if renew:
            log.clear()
        if entry is not None:
            log.append(entry)
            kinds.append(renew)
        back = restore(step, log)
        assert (back.states if back else {}) == expected
        if back is not None:
            assert back.clocks == shard.clocks and back.newest == shard.newest
        assert sum(map(len, log)) <= 2 * meta.snapshot_bytes + COMPACT_MIN_BYTES
    assert kinds.count(False) > 10 * kinds.count(True)  # mostly change sets, a few snapshots


def test_a_step_without_change_tracking_is_written_whole_each_time():
    step = Collect()
    renew, entry, meta = record(step, (1,), Meta())
    assert renew and entry is not None and meta.snapshot_bytes == len(entry)
    renew, entry, meta = record(step, (1, 2), meta)
    assert renew and restore(step, [entry]) == (1, 2)
    renew, entry, meta = record(step, None, meta)
    assert renew and entry is None and meta.snapshot_bytes == 0 and restore(step, []) is None


def test_a_snapshot_entry_names_itself():
    import pickle

    step = ShardedStep(Collect(), _split, _clock, HORIZON)
    shard, _ = step.run("s", None, [("a", 1)])
    _, entry, _ = record(step, shard, Meta())
    assert pickle.loads(entry)[0] == SNAPSHOT
