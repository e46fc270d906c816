"""Per-feed poll state persisted in SQLite: validators, URL moves, last success, error streak, next poll,
and the article ids already emitted — so a restart neither refetches everything nor re-emits.

Thread-safe (one connection behind a lock); every `commit` is one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

EMITTED_RETENTION = 90 * 86400.0  # forget emitted ids not seen in a feed for this long


@dataclass(frozen=True)
class FeedState:
    feed_id: str
    url: str | None = None  # the URL to fetch when a permanent redirect moved the feed (else the registry's)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # sha256 of the last document parsed (unchanged bodies are not re-parsed)
    last_attempt: float | None = None
    last_success: float | None = None
    last_status: int | None = None
    last_error: str | None = None
    error_streak: int = 0
    next_poll: float = 0.0
    items_last_poll: int = 0  # entries in the last document
    new_last_poll: int = 0  # articles emitted by the last poll
    gone: bool = False  # the server said 410 Gone
    origin_url: str | None = None  # the registry URL `url` was moved from (a registry edit resets the move)

    def updated(self, **changes: object) -> FeedState:
        return replace(self, **changes)


_COLUMNS = [f.name for f in fields(FeedState)]
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS feed_state ({", ".join(
    f"{c} {'TEXT PRIMARY KEY' if c == 'feed_id' else ''}" for c in _COLUMNS)});
CREATE TABLE IF NOT EXISTS emitted (
    feed_id TEXT NOT NULL, article_id TEXT NOT NULL, first_emitted REAL NOT NULL, last_seen REAL NOT NULL,
    PRIMARY KEY (feed_id, article_id)) WITHOUT ROWID;
"""


def _state(row: tuple[object, ...]) -> FeedState:
    values = dict(zip(_COLUMNS, row))
    values["gone"] = bool(values["gone"])
    return FeedState(**values)  # type: ignore[arg-type]


class StateStore:
    """The poller's memory between runs: `state_dir/feeds/state.sqlite3` by default."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        present = {r[1] for r in self._db.execute("PRAGMA table_info(feed_state)")}
        for column in _COLUMNS:
            if column not in present:  # a state file from an older version
                self._db.execute(f"ALTER TABLE feed_state ADD COLUMN {column}")

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> StateStore:
        return cls(state_dir / "feeds" / "state.sqlite3")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, feed_id: str) -> FeedState:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM feed_state WHERE feed_id = ?",
                                   (feed_id,)).fetchone()
        return _state(row) if row else FeedState(feed_id=feed_id)

    def all(self) -> dict[str, FeedState]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM feed_state").fetchall()
        return {row[0]: _state(row) for row in rows}

    def emitted(self, feed_id: str, article_ids: Iterable[str]) -> set[str]:
        """Which of `article_ids` were already emitted for this feed."""
        ids = list(dict.fromkeys(article_ids))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(r[0] for r in self._db.execute(
                    f"SELECT article_id FROM emitted WHERE feed_id = ? AND article_id IN ({marks})",
                    (feed_id, *chunk)))
        return found

    def commit(self, states: Iterable[FeedState], emitted: dict[str, Iterable[str]] | None = None,
               seen: dict[str, Iterable[str]] | None = None, now: float = 0.0) -> None:
        """Save feed states, record newly emitted ids and refresh `last_seen` of ids still in the feeds."""
        rows = [tuple(asdict(s)[c] for c in _COLUMNS) for s in states]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    f"INSERT OR REPLACE INTO feed_state ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_COLUMNS))})", rows)
                for feed_id, ids in (emitted or {}).items():
                    self._db.executemany(
                        "INSERT INTO emitted VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (feed_id, article_id) DO UPDATE SET last_seen = excluded.last_seen",
                        [(feed_id, i, now, now) for i in ids])
                for feed_id, ids in (seen or {}).items():
                    self._db.executemany("UPDATE emitted SET last_seen = ? WHERE feed_id = ? AND article_id = ?",
                                         [(now, feed_id, i) for i in ids])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def prune(self, now: float, retention: float = EMITTED_RETENTION) -> int:
        """Forget emitted ids unseen for `retention` seconds; returns how many."""
        with self._lock:
            cur = self._db.execute("DELETE FROM emitted WHERE last_seen < ?", (now - retention,))
            return cur.rowcount

    def count_emitted(self, feed_id: str | None = None) -> int:
        with self._lock:
            if feed_id is None:
                return self._db.execute("SELECT COUNT(*) FROM emitted").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM emitted WHERE feed_id = ?", (feed_id,)).fetchone()[0]
