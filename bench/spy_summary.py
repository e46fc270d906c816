"""Summarise a py-spy raw profile (`py-spy record -f raw [--full-filenames]`): where the samples went.

Each sample is a stack; it is attributed to

- `owner`: its innermost frame of the project (`pipeline/…`, `schemas/…`, `nkru/…`, as "module:function"), or,
  with no project frame on the stack, its innermost Apache Beam module ("beam:" + module), else the innermost
  other package ("other:" + package);
- `leaf`: the package or module of its innermost frame (where the CPU actually was: pickle, pydantic, numpy, re…).

    .venv/bin/python bench/spy_summary.py FILE [--top 25]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_PROJECT = ("pipeline", "schemas", "nkru", "connectors", "bench")


def _parts(path: str) -> list[str]:
    parts = path.replace("\\", "/").split("/")
    if "site-packages" in parts:
        return parts[len(parts) - parts[::-1].index("site-packages"):]
    for top in _PROJECT:  # the project is installed in editable mode: its files keep their repo paths
        if top in parts:
            return parts[len(parts) - parts[::-1].index(top) - 1:]
    return ["<stdlib>", parts[-1]] if path.endswith(".py") else [path]


def _module(parts: list[str]) -> str:
    return "/".join(parts).removesuffix(".py")


def classify(frames: list[tuple[str, str]]) -> tuple[str, str]:
    """(owner, leaf) of one stack, frames outermost first, each (function, file)."""
    leaf_parts = _parts(frames[-1][1])
    leaf = leaf_parts[1].removesuffix(".py") if leaf_parts[0] == "<stdlib>" else leaf_parts[0]
    if leaf == "apache_beam":
        leaf = _module(leaf_parts[:3])
    beam = other = None
    for func, path in reversed(frames):
        parts = _parts(path)
        if parts[0] in _PROJECT:
            return f"{_module(parts)}:{func}", leaf
        if parts[0] == "apache_beam" and beam is None:
            beam = "beam:" + _module(parts[:4])
        if other is None and parts[0] != "<stdlib>":
            other = "other:" + parts[0]
    return beam or other or "other:<stdlib>", leaf


def summarise(path: Path, top: int = 25) -> dict:
    owners, leaves, total = Counter(), Counter(), 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for raw in stack.split(";"):
            m = _FRAME.match(raw.strip())
            if m and ("/" in m["file"] or m["file"].endswith(".py")):
                frames.append((m["func"], m["file"]))
        if not frames:
            continue
        owner, leaf = classify(frames)
        owners[owner] += int(count)
        leaves[leaf] += int(count)
        total += int(count)
    share = lambda c: round(100 * c / max(total, 1), 1)
    groups = Counter()
    for owner, c in owners.items():
        groups[owner.split(":")[0] if not owner.startswith(("beam:", "other:")) else owner.split("/")[0]
               .replace("beam:apache_beam", "beam")] += c
    return {"samples": total,
            "by_module": {k: share(c) for k, c in groups.most_common(top)},
            "by_function": {k: share(c) for k, c in owners.most_common(top)},
            "by_leaf": {k: share(c) for k, c in leaves.most_common(top)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(json.dumps(summarise(args.file, args.top), indent=2))


if __name__ == "__main__":
    main()
