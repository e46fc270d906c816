"""SVG building blocks: an escaping element builder, linear scales and readable axis ticks (no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

_RENAMED = {"class_": "class", "for_": "for"}


def _attr_name(key: str) -> str:
    """`class_` → class, `data_low` → data-low, `stroke_width` → stroke-width; camelCase (viewBox) is kept."""
    return _RENAMED.get(key, key.replace("_", "-"))


def _attr_value(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    return str(value)


def el(tag: str, attrs: dict[str, Any] | None = None, *children: Any) -> Markup:
    """One element; attributes with value None/False are left out, text children are escaped."""
    parts = [f"<{tag}"]
    for key, value in (attrs or {}).items():
        if value is None or value is False:
            continue
        name = _attr_name(key)
        parts.append(f" {name}" if value is True else f' {name}="{escape(_attr_value(value))}"')
    kids = [c for c in children if c is not None and c != ""]
    if not kids:
        return Markup("".join(parts) + "/>")
    return Markup("".join(parts) + ">" + "".join(str(escape(c)) for c in kids) + f"</{tag}>")


def join(items: Any) -> Markup:
    return Markup("".join(str(escape(i)) for i in items))


@dataclass(frozen=True)
class Linear:
    """Maps the domain [d0, d1] onto the range [r0, r1]; a zero-width domain maps to the range's middle."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        if self.d1 == self.d0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (value - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)


def nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1-2-2.5-5 steps)."""
    step = nice_step(high - low, count)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def nice_max(high: float, count: int = 5) -> float:
    """The smallest round tick at or above `high` (headroom for the y axis)."""
    if high <= 0:
        return 1.0
    step = nice_step(high, count)
    return math.ceil(high / step) * step


def ts(value: datetime) -> float:
    return value.timestamp()


def time_domain(times: list[datetime], pad_fraction: float = 0.04,
                min_span: timedelta = timedelta(days=20)) -> tuple[datetime, datetime]:
    """A padded [start, end] around `times`; a single instant gets `min_span` around it."""
    lo, hi = min(times), max(times)
    if hi - lo < min_span:
        mid = lo + (hi - lo) / 2
        return mid - min_span / 2, mid + min_span / 2
    pad = (hi - lo) * pad_fraction
    return lo - pad, hi + pad


def _add_months(day: datetime, months: int) -> datetime:
    index = day.month - 1 + months
    return day.replace(year=day.year + index // 12, month=index % 12 + 1, day=1)


def time_ticks(start: datetime, end: datetime, max_ticks: int = 7) -> list[tuple[datetime, str]]:
    """Tick instants and labels between start and end: days, weeks or month starts, whichever fits."""
    span_days = (end - start).total_seconds() / 86400
    if span_days <= 45:
        step = next(s for s in (1, 2, 3, 7, 14, 21) if span_days / s <= max_ticks)
        tick = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=1)
        out = []
        while tick <= end:
            out.append((tick, tick.strftime("%-d %b")))
            tick += timedelta(days=step)
        return out
    months = span_days / 30.44
    step_m = next((s for s in (1, 2, 3, 6, 12, 24) if months / s <= max_ticks), 60)
    tick = _add_months(datetime(start.year, start.month, 1, tzinfo=UTC), 1)
    while (tick.month - 1) % step_m and step_m <= 12:
        tick = _add_months(tick, 1)
    out = []
    while tick <= end:
        out.append((tick, tick.strftime("%b %Y") if step_m < 12 else tick.strftime("%Y")))
        tick = _add_months(tick, step_m)
    return out


def fmt_int(value: float | None) -> str:
    return "?" if value is None else f"{round(value):,}"


def fmt_range(low: int | None, high: int | None) -> str:
    """'1,500', '10,000–12,000', '≥10,000', '≤300' or 'no figure'."""
    if low is None and high is None:
        return "no figure"
    if high is None:
        return f"≥{fmt_int(low)}"
    if low is None:
        return f"≤{fmt_int(high)}"
    return fmt_int(low) if low == high else f"{fmt_int(low)}–{fmt_int(high)}"
