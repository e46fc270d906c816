"""Inline SVG charts: the claims chart of one quantity (a step line per source, low–high bands) and the
timeline of canonical events by type. Pure: view models in, `Markup` out; the same SVG serves the live
page and the static report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from markupsafe import Markup

from nkru.web.svg import Linear, el, fmt_int, fmt_range, join, nice_max, nice_ticks, time_domain, time_ticks, ts
from nkru.web.views import UNATTRIBUTED, QuantityClaims, label

# Okabe–Ito palette (distinguishable with colour-vision deficiency); each series also has its own marker shape.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#6a3d9a", "#444444")
SHAPES = ("circle", "square", "diamond", "triangle")


def series_style(index: int) -> tuple[str, str]:
    return PALETTE[index % len(PALETTE)], SHAPES[index % len(SHAPES)]


def marker(shape: str, x: float, y: float, size: float, colour: str, **attrs) -> Markup:
    """A filled marker centred on (x, y)."""
    common = {"fill": colour, "stroke": "#fff", "stroke_width": 1.2, **attrs}
    if shape == "circle":
        return el("circle", {"cx": x, "cy": y, "r": size, **common})
    if shape == "square":
        return el("rect", {"x": x - size, "y": y - size, "width": 2 * size, "height": 2 * size, **common})
    if shape == "diamond":
        s = size * 1.3
        return el("path", {"d": f"M{x:.1f},{y - s:.1f}L{x + s:.1f},{y:.1f}L{x:.1f},{y + s:.1f}L{x - s:.1f},{y:.1f}Z",
                           **common})
    s = size * 1.3
    return el("path", {"d": f"M{x:.1f},{y - s:.1f}L{x + s:.1f},{y + s * 0.8:.1f}L{x - s:.1f},{y + s * 0.8:.1f}Z",
                       **common})


def legend_swatch(index: int, remark: bool = False) -> Markup:
    colour, shape = series_style(index)
    attrs = {"class_": "swatch", "viewBox": "0 0 16 16", "width": 16, "height": 16, "aria_hidden": "true"}
    if remark:
        return el("svg", attrs, cross(8, 8, 4.5, colour))
    return el("svg", attrs, el("line", {"x1": 0, "y1": 8, "x2": 16, "y2": 8, "stroke": colour, "stroke_width": 2}),
              marker(shape, 8, 8, 4.5, colour))


def cross(x: float, y: float, size: float, colour: str) -> Markup:
    return el("path", {"d": f"M{x - size:.1f},{y - size:.1f}L{x + size:.1f},{y + size:.1f}"
                            f"M{x - size:.1f},{y + size:.1f}L{x + size:.1f},{y - size:.1f}",
                       "stroke": colour, "stroke_width": 2.4, "fill": "none"})


def _axes(width: float, height: float, left: float, top: float, bottom: float, x: Callable[[float], float],
          y: Callable[[float], float], xticks: list[tuple[datetime, str]], yticks: list[float],
          y_label: Callable[[float], str]) -> list[Markup]:
    parts = []
    for value in yticks:
        yy = y(value)
        parts.append(el("line", {"class_": "grid", "x1": left, "x2": width - 12, "y1": yy, "y2": yy}))
        parts.append(el("text", {"class_": "tick", "x": left - 6, "y": yy + 4, "text_anchor": "end"}, y_label(value)))
    for when, text in xticks:
        xx = x(ts(when))
        parts.append(el("line", {"class_": "grid", "x1": xx, "x2": xx, "y1": top, "y2": height - bottom}))
        parts.append(el("text", {"class_": "tick", "x": xx, "y": height - bottom + 16, "text_anchor": "middle"}, text))
    parts.append(el("line", {"class_": "axis", "x1": left, "x2": width - 12, "y1": height - bottom,
                             "y2": height - bottom}))
    return parts


def claims_chart(group: QuantityClaims, chart_id: str, until: datetime | None = None) -> Markup:
    """Step chart of each source's figure for one quantity over time; ranges drawn as bands.

    Each source's last figure is carried on to `until` (the event's last report) when that is later.
    """
    width, height, left, top, bottom = 760.0, 300.0, 64.0, 18.0, 34.0
    points = [p for s in group.series for p in s.points]
    if not points:
        return Markup("")
    remarks = [(c, at) for c, why, at in group.uncharted if why == "no figure" and at is not None]
    start, end = time_domain([p.at for p in points] + [at for _, at in remarks] + ([until] if until else []),
                             pad_fraction=0.05)
    x = Linear(ts(start), ts(end), left, width - 12)
    y_top = nice_max(max(p.high for p in points) * 1.08)
    y = Linear(0, y_top, height - bottom, top)
    body = _axes(width, height, left, top, bottom, x, y, time_ticks(start, end), nice_ticks(0, y_top), fmt_int)
    for index, series in enumerate(group.series):
        body.append(_series(series, index, x, y, ts(end), group.quantity))
    body.append(_remarks(group, remarks, x, height - bottom))
    title = f"{label(group.quantity)}: figures claimed by each source over time"
    desc = "; ".join(f"{s.source}: " + ", ".join(f"{fmt_range(p.low, p.high)} on {p.at:%d %b %Y}" for p in s.points)
                     for s in group.series)
    return el("svg", {"class_": "chart claims-chart", "id": chart_id, "viewBox": f"0 0 {width:.0f} {height:.0f}",
                      "role": "img", "aria_labelledby": f"{chart_id}-t {chart_id}-d",
                      "data_quantity": group.quantity},
              el("title", {"id": f"{chart_id}-t"}, title), el("desc", {"id": f"{chart_id}-d"}, desc), join(body))


def _series(series, index: int, x: Linear, y: Linear, end: float, quantity: str) -> Markup:
    colour, shape = series_style(index)
    pts = series.points
    xs = [x(ts(p.at)) for p in pts] + [x(end)]
    bands, labels, marks = [], [], []
    path = f"M{xs[0]:.1f},{y(pts[0].mid):.1f}"
    for i, p in enumerate(pts):
        if i:
            path += f"H{xs[i]:.1f}V{y(p.mid):.1f}"
        if p.high > p.low:
            bands.append(el("rect", {"class_": "band", "x": xs[i], "y": y(p.high), "width": max(xs[i + 1] - xs[i], 2.0),
                                     "height": y(p.low) - y(p.high), "fill": colour}))
            marks.append(el("line", {"class_": "whisker", "x1": xs[i], "x2": xs[i], "y1": y(p.high), "y2": y(p.low),
                                     "stroke": colour}))
        text = f"{p.source}, {p.at:%d %b %Y}: {fmt_range(p.low, p.high)} {label(quantity).lower()}" \
               f" ({p.claim.modality}{', ' + p.outlet if p.outlet else ''})"
        marks.append(el("g", {"class_": "claim-point", "data_source": p.source, "data_at": p.at.isoformat(),
                              "data_low": p.low, "data_high": p.high, "data_modality": p.claim.modality},
                         el("title", {}, text), marker(shape, xs[i], y(p.mid), 5.0, colour)))
        crowded = xs[i] > x.r1 - 90 or (i + 1 < len(pts) and xs[i + 1] - xs[i] < 60)  # right edge, or a close step
        labels.append(el("text", {"class_": "point-label", "x": xs[i] - 7 if crowded else xs[i] + 7,
                                  "y": y(p.high) - 6, "fill": colour, "text_anchor": "end" if crowded else None},
                         fmt_range(p.low, p.high)))
    path += f"H{xs[-1]:.1f}"
    line = el("path", {"class_": "step", "d": path, "stroke": colour, "fill": "none"})
    return el("g", {"class_": "series", "data_source": series.source}, join(bands), line, join(marks), join(labels))


def _remarks(group: QuantityClaims, remarks: list, x: Linear, baseline: float) -> Markup:
    """Figure-less claims (a denial, 'no information') as crosses on the time axis, in their source's colour."""
    index = {s.source: i for i, s in enumerate(group.series)}
    index.update({name: len(group.series) + i for i, name in enumerate(group.figureless_sources)})
    marks = []
    for claim, at in remarks:
        source = claim.source or UNATTRIBUTED
        colour, _ = series_style(index.get(source, 0))
        text = f"{source}, {at:%d %b %Y}: {claim.modality}, no figure given"
        marks.append(el("g", {"class_": "claim-remark", "data_source": source, "data_at": at.isoformat(),
                              "data_modality": claim.modality},
                         el("title", {}, text), cross(x(ts(at)), baseline - 9, 5.0, colour)))
    return join(marks)


MODALITY_COLOURS = {"asserted": "#4a6fa5", "claimed": "#b8860b", "confirmed": "#1b7f3b", "denied": "#c0392b",
                    "expected": "#7b4fa0", "hypothetical_or_concern": "#7f8c8d"}


def timeline_chart(rows: list[tuple[str, list[dict]]], as_of: datetime | None) -> Markup:
    """Swimlanes by event type: a dot at first report (size by mentions), a line to the last report.

    `rows` is [(type, [{event, href, new, start, end, mentions, modality, text}])], built by the page.
    """
    items = [item for _, lane in rows for item in lane]
    if not items:
        return Markup("")
    width, left, top, lane_h, bottom = 960.0, 200.0, 10.0, 38.0, 30.0
    height = top + lane_h * len(rows) + bottom
    times = [i["start"] for i in items] + [i["end"] for i in items]
    start, end = time_domain(times, pad_fraction=0.03)
    x = Linear(ts(start), ts(end), left, width - 16)
    body = []
    for when, text in time_ticks(start, end, max_ticks=9):
        xx = x(ts(when))
        body.append(el("line", {"class_": "grid", "x1": xx, "x2": xx, "y1": top, "y2": height - bottom}))
        body.append(el("text", {"class_": "tick", "x": xx, "y": height - bottom + 16, "text_anchor": "middle"}, text))
    for n, (etype, lane) in enumerate(rows):
        cy = top + lane_h * n + lane_h / 2
        body.append(el("line", {"class_": "lane", "x1": left, "x2": width - 16, "y1": cy, "y2": cy}))
        body.append(el("text", {"class_": "lane-label", "x": left - 10, "y": cy + 4, "text_anchor": "end"},
                       label(etype)))
        for item in lane:
            body.append(_timeline_item(item, x, cy))
    if as_of is not None and start <= as_of <= end:
        xx = x(ts(as_of))
        body.append(el("line", {"class_": "as-of", "x1": xx, "x2": xx, "y1": top, "y2": height - bottom}))
        body.append(el("text", {"class_": "tick", "x": xx - 4, "y": top + 10, "text_anchor": "end"}, "as of"))
    return el("svg", {"class_": "chart timeline", "viewBox": f"0 0 {width:.0f} {height:.0f}", "role": "group",
                      "aria_label": "Timeline of canonical events by type"}, join(body))


def _timeline_item(item: dict, x: Linear, cy: float) -> Markup:
    colour = MODALITY_COLOURS.get(item["modality"], "#555")
    x0, x1 = x(ts(item["start"])), x(ts(item["end"]))
    radius = 4.0 + 2.2 * item["mentions"] ** 0.5
    parts = [el("line", {"class_": "span", "x1": x0, "x2": max(x1, x0), "y1": cy, "y2": cy, "stroke": colour})]
    if item["new"]:
        parts.append(el("circle", {"class_": "new-ring", "cx": x0, "cy": cy, "r": radius + 4}))
    parts.append(el("circle", {"class_": "dot", "cx": x0, "cy": cy, "r": radius, "fill": colour}))
    return el("a", {"href": item["href"], "class_": "timeline-event", "data_event_id": item["event"].event_id,
                    "aria_label": item["text"]}, el("title", {}, item["text"]), join(parts))
