"""The feed registry: YAML file → validated `Registry` of `FeedConfig`s; errors name the line and the field.

Also OPML import and export (how feed lists move between readers).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.feeds.urls import canonical_url

DEFAULT_REGISTRY = Path(__file__).with_name("default_feeds.yaml")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


class RegistryError(ValueError):
    """The registry file is invalid; the message names the file, the line and the field."""


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as '90s', '15m', '1h', '1d'."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            unit = match.group(2).lower() if match.group(2) else None
            return float(match.group(1)) * _UNIT_SECONDS[unit]
    raise ValueError(f"expected seconds or a duration such as '15m', '1h', got {value!r}")


class FeedConfig(BaseModel):
    """One feed: where it is, whose it is, how often to poll it and whether to fetch full article pages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$", description="stable id: lower case, digits, . _ -")
    url: str = Field(description="the feed's http(s) URL")
    outlet: str = Field(min_length=1, description="who publishes it (stamped on every article)")
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
                                 description="declared language (BCP 47), else detected")
    poll_interval: float = Field(900.0, ge=1.0, description="seconds (or '15m', '1h') between polls")
    timezone: str | None = Field(None, description="IANA zone for dates the feed gives without an offset")
    tags: tuple[str, ...] = ()
    fulltext: bool = Field(False, description="fetch each new article's page and extract its main text")
    enabled: bool = True
    title: str | None = Field(None, description="human title (OPML text)")
    site: str | None = Field(None, description="the outlet's web site (OPML htmlUrl)")

    @field_validator("poll_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("url", "site")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and canonical_url(value) is None:
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value.strip() if value else value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Asia/Seoul')") from None
        return value

    @property
    def tzinfo(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None


class Registry(BaseModel):
    """All feeds, with unique ids and URLs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    feeds: tuple[FeedConfig, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        seen_ids: set[str] = set()
        seen_urls: dict[str, str] = {}
        for feed in self.feeds:
            if feed.id in seen_ids:
                raise ValueError(f"duplicate feed id {feed.id!r}")
            seen_ids.add(feed.id)
            url = canonical_url(feed.url) or feed.url
            if url in seen_urls:
                raise ValueError(f"feeds {seen_urls[url]!r} and {feed.id!r} have the same URL")
            seen_urls[url] = feed.id
        return self

    @property
    def enabled(self) -> list[FeedConfig]:
        return [f for f in self.feeds if f.enabled]

    def get(self, feed_id: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.id == feed_id), None)


def _node_at(node: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Node | None:
    """The deepest YAML node along a pydantic error location (to report its line)."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                return node
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _duplicate_problems(data: dict[str, Any], root: yaml.Node) -> list[str]:
    """Line-numbered messages for duplicate ids and URLs (the model validator alone cannot say which line)."""
    problems: list[str] = []
    firsts: dict[tuple[str, str], int] = {}
    for index, item in enumerate(data.get("feeds") or []):
        if not isinstance(item, dict):
            continue
        for field in ("id", "url"):
            value = item.get(field)
            if not isinstance(value, str):
                continue
            key = (field, (canonical_url(value) or value) if field == "url" else value)
            node = _node_at(root, ("feeds", index, field))
            line = node.start_mark.line + 1 if node is not None else 0
            if key in firsts:
                problems.append(f"line {line}: feeds[{index}].{field}: duplicate {field} {value!r} "
                                f"(first at line {firsts[key]})")
            firsts.setdefault(key, line)
    return problems


def parse_registry(text: str, source: str = "<registry>") -> Registry:
    """Validate registry YAML text; RegistryError names `source`, the line and the field of each problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise RegistryError(f"{source}: {where}not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if isinstance(data, list):  # a bare list of feeds is accepted
        data = {"feeds": data}
        root = yaml.MappingNode("tag:yaml.org,2002:map", [(yaml.ScalarNode("tag:yaml.org,2002:str", "feeds"), root)])
    if not isinstance(data, dict):
        raise RegistryError(f"{source}: line 1: the registry must be a mapping with a 'feeds' list")
    try:
        return Registry.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if not loc and _duplicate_problems(data, root):
                problems.extend(_duplicate_problems(data, root))
                continue
            node = _node_at(root, loc)
            line = f"line {node.start_mark.line + 1}" if node is not None else "line ?"
            problems.append(f"{line}: {_field_path(loc)}: {err['msg']}")
        raise RegistryError(f"{source}: " + "; ".join(problems)) from None


def load_registry(path: Path | None = None) -> Registry:
    """Read a registry file (default: the bundled registry of real outlets)."""
    path = path or DEFAULT_REGISTRY
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(f"{path}: no such registry file") from None
    return parse_registry(text, str(path))


def dump_registry(registry: Registry) -> str:
    """YAML text of a registry (defaults left out), readable back by `parse_registry`."""
    feeds = [f.model_dump(mode="json", exclude_defaults=True, exclude={"id", "url", "outlet"})
             for f in registry.feeds]
    rows = [{"id": f.id, "url": f.url, "outlet": f.outlet, **rest} for f, rest in zip(registry.feeds, feeds)]
    for row in rows:
        if "tags" in row:
            row["tags"] = list(row["tags"])
    return yaml.safe_dump({"version": registry.version, "feeds": rows}, sort_keys=False, allow_unicode=True)
