"""Where nkru keeps what it downloads and builds (outside the clone) and its local state."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`NKRU_CACHE`, else `$XDG_CACHE_HOME/nkru`, else `~/.cache/nkru`: jars, the Prism binary."""
    explicit = os.environ.get("NKRU_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nkru"


def state_dir() -> Path:
    """`NKRU_STATE`, else `~/.local/state/nkru`: broker data, feed state, dedup state of the default job."""
    explicit = os.environ.get("NKRU_STATE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "nkru"
