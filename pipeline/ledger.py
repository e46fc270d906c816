"""Which raw-topic records are fully written, per partition: the offsets the streaming job may commit.

Prism finalizes a source bundle once its output is inside the runner, not once the sinks have written
it. With the runner's LOOPBACK environment every DoFn runs in this process, so the sinks (after their
flush) and the dedup stage (for exact duplicates it drops) report each raw position they have finished
here, and the source commits only the contiguous prefix of finished offsets. A restart that re-reads
from the committed offsets then loses nothing.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_next: dict[tuple[str, int], int] = {}  # (topic, partition) → lowest offset not known to be finished
_done: dict[tuple[str, int], set[int]] = {}  # finished offsets above it


def begin(topic: str, partition: int, offset: int) -> None:
    """The source starts reading (topic, partition) at `offset` in this process."""
    with _lock:
        key = (topic, partition)
        if key not in _next or offset < _next[key]:
            _next[key] = offset
            _done.setdefault(key, set())


def finished(topic: str, partition: int, offset: int) -> None:
    """Every output of the record at `offset` is durable (written and flushed, or deliberately dropped)."""
    with _lock:
        key = (topic, partition)
        if key not in _next or offset < _next[key]:
            return
        done = _done.setdefault(key, set())
        done.add(offset)
        nxt = _next[key]
        while nxt in done:
            done.discard(nxt)
            nxt += 1
        _next[key] = nxt


def finished_position(position: str | None) -> None:
    """`finished` for a 'topic[partition]@offset' position (anything else is ignored)."""
    from pipeline.io import parse_position

    where = parse_position(position)
    if where is not None:
        finished(*where)


def safe_offset(topic: str, partition: int) -> int | None:
    """The offset up to which (exclusive) every record is finished; None before `begin`."""
    with _lock:
        return _next.get((topic, partition))
