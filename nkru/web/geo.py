"""The event map: canonical events with a known place → schematic SVG panels (basemap.yaml) with one
marker per place sized by mentions; country-only places are listed and their country hatched, never
pinned to a centroid; places outside every panel are listed as elsewhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict

from nkru.web.svg import el, join
from nkru.web.views import label
from schemas.records import CanonicalEvent

BASEMAP = Path(__file__).with_name("basemap.yaml")


class Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    country: str | None = None
    kind: Literal["area", "line", "water"]
    points: list[tuple[float, float]]


class MapLabel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    text: str
    lon: float
    lat: float
    kind: Literal["country", "water"]


class RefPlace(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    lon: float
    lat: float


class Panel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    title: str
    west: float
    east: float
    south: float
    north: float
    width: int
    shapes: list[Shape] = []
    labels: list[MapLabel] = []
    places: list[RefPlace] = []

    @property
    def height(self) -> float:
        mid = math.radians((self.north + self.south) / 2)
        return self.width * (self.north - self.south) / ((self.east - self.west) * math.cos(mid))

    def contains(self, lon: float, lat: float) -> bool:
        return self.west <= lon <= self.east and self.south <= lat <= self.north

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        x = (lon - self.west) / (self.east - self.west) * self.width
        y = (self.north - lat) / (self.north - self.south) * self.height
        return x, y


class Basemap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str
    panels: list[Panel]


@lru_cache(maxsize=4)
def load_basemap(path: Path = BASEMAP) -> Basemap:
    return Basemap.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass
class Place:
    """A place with its events: one marker on the map (or one entry of a list)."""

    key: str
    name: str
    country: str | None
    precision: str
    lat: float | None
    lon: float | None
    events: list[CanonicalEvent] = field(default_factory=list)

    @property
    def mentions(self) -> int:
        return sum(len(e.mentions) for e in self.events)

    @property
    def anchor(self) -> str:
        return "place-" + self.key


@dataclass
class MapView:
    panels: list[tuple[Panel, Markup]]
    placed: list[Place]
    country_level: list[Place]
    elsewhere: list[Place]
    unplaced: int


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "place"


def group_places(events: list[CanonicalEvent]) -> tuple[list[Place], list[Place], int]:
    """(places with coordinates, country-only places, events without a location)."""
    placed: dict[str, Place] = {}
    countries: dict[str, Place] = {}
    unplaced = 0
    for event in events:
        loc = event.location
        if loc is None:
            unplaced += 1
        elif loc.precision == "country" or loc.lat is None or loc.lon is None:
            key = _slug(loc.country or loc.name)
            countries.setdefault(key, Place(key, loc.name, loc.country, "country", None, None)).events.append(event)
        else:
            key = _slug(f"{loc.name}-{loc.lat:.2f}-{loc.lon:.2f}")
            placed.setdefault(key, Place(key, loc.name, loc.country, loc.precision, loc.lat, loc.lon)).events.append(event)
    by_mentions = lambda p: (-p.mentions, p.name)
    return sorted(placed.values(), key=by_mentions), sorted(countries.values(), key=by_mentions), unplaced


def map_view(events: list[CanonicalEvent], place_href: Callable[[Place], str], basemap: Basemap | None = None) -> MapView:
    basemap = basemap or load_basemap()
    placed, country_level, unplaced = group_places(events)
    hatched = {p.country: p for p in country_level if p.country}
    panels: list[tuple[Panel, Markup]] = []
    drawn: set[str] = set()
    for panel in basemap.panels:
        inside = [p for p in placed if panel.contains(p.lon, p.lat) and p.key not in drawn]  # type: ignore[arg-type]
        drawn.update(p.key for p in inside)
        panels.append((panel, panel_svg(panel, inside, hatched, place_href)))
    elsewhere = [p for p in placed if p.key not in drawn]
    return MapView(panels, placed, country_level, elsewhere, unplaced)


def marker_radius(mentions: int) -> float:
    return 4.0 + 2.5 * math.sqrt(max(mentions, 1))


def panel_svg(panel: Panel, places: list[Place], hatched: dict[str, Place],
              place_href: Callable[[Place], str]) -> Markup:
    width, height = panel.width, panel.height
    clip, hatch = f"clip-{panel.id}", f"hatch-{panel.id}"
    defs = el("defs", {},
              el("clipPath", {"id": clip}, el("rect", {"x": 0, "y": 0, "width": width, "height": height})),
              el("pattern", {"id": hatch, "width": 6, "height": 6, "patternUnits": "userSpaceOnUse",
                             "patternTransform": "rotate(45)"},
                 el("line", {"x1": 0, "y1": 0, "x2": 0, "y2": 6, "class_": "hatch-line"})))
    body = [el("rect", {"class_": "background", "x": 0, "y": 0, "width": width, "height": height})]
    body += [el("polygon", {"class_": "sea", "points": _points(panel, s.points)}) for s in panel.shapes
             if s.kind == "water"]
    body.append(_graticule(panel))
    for shape in panel.shapes:
        if shape.kind != "water":
            body.append(_shape(panel, shape, hatched.get(shape.country or ""), hatch))
    for lab in panel.labels:
        x, y = panel.project(lab.lon, lab.lat)
        body.append(el("text", {"class_": f"map-label {lab.kind}", "x": x, "y": y, "text_anchor": "middle"}, lab.text))
    names = {p.name for p in places}
    for ref in panel.places:
        if ref.name not in names:
            x, y = panel.project(ref.lon, ref.lat)
            body.append(el("g", {"class_": "ref-place"}, el("circle", {"cx": x, "cy": y, "r": 2}),
                           _side_label(panel, ref.name, x, y - 3, 4, {})))
    for place in sorted(places, key=lambda p: -p.mentions):  # big markers first, small ones stay clickable on top
        body.append(_marker(panel, place, place_href(place)))
    return el("svg", {"class_": "map-panel", "id": f"map-{panel.id}", "viewBox": f"0 0 {width} {height:.0f}",
                      "role": "group", "aria_label": f"Map: {panel.title}"},
              defs, el("g", {"clip_path": f"url(#{clip})"}, join(body)))


def _points(panel: Panel, points: list[tuple[float, float]]) -> str:
    return " ".join("{:.1f},{:.1f}".format(*panel.project(lon, lat)) for lon, lat in points)


def _shape(panel: Panel, shape: Shape, country_place: Place | None, hatch: str) -> Markup:
    if shape.kind == "line":
        return el("polyline", {"class_": "border", "points": _points(panel, shape.points)})
    attrs = {"class_": "land", "points": _points(panel, shape.points), "data_country": shape.country}
    if country_place is None:
        return el("polygon", attrs)
    n = len(country_place.events)
    note = f"{shape.name}: {n} event{'s' if n != 1 else ''} known only at country level"
    return el("g", {"class_": "country-level", "data_country": shape.country, "data_events": n},
              el("title", {}, note), el("polygon", attrs),
              el("polygon", {"class_": "hatch", "points": attrs["points"], "fill": f"url(#{hatch})"}))


def _graticule(panel: Panel) -> Markup:
    lines = []
    for lon in range(math.ceil(panel.west / 5) * 5, int(panel.east) + 1, 5):
        x, _ = panel.project(lon, panel.north)
        lines.append(el("line", {"x1": x, "x2": x, "y1": 0, "y2": panel.height}))
        lines.append(el("text", {"x": x + 2, "y": panel.height - 4}, f"{lon}°E"))
    for lat in range(math.ceil(panel.south / 5) * 5, int(panel.north) + 1, 5):
        _, y = panel.project(panel.west, lat)
        lines.append(el("line", {"x1": 0, "x2": panel.width, "y1": y, "y2": y}))
        lines.append(el("text", {"x": 2, "y": y - 2}, f"{lat}°N"))
    return el("g", {"class_": "graticule", "aria_hidden": "true"}, join(lines))


def _marker(panel: Panel, place: Place, href: str) -> Markup:
    x, y = panel.project(place.lon, place.lat)  # type: ignore[arg-type]
    n = len(place.events)
    text = (f"{place.name} ({place.precision}-level): {n} event{'s' if n != 1 else ''}, {place.mentions} mentions — "
            + "; ".join(label(e.type) for e in place.events[:5]))
    r = marker_radius(place.mentions)
    return el("a", {"href": href, "class_": "place-marker", "data_place": place.name, "data_precision": place.precision,
                    "data_mentions": place.mentions, "data_events": n, "aria_label": text},
              el("title", {}, text),
              el("circle", {"class_": f"marker prec-{place.precision}", "cx": x, "cy": y, "r": r}),
              _side_label(panel, place.name, x, y + 4, r + 3, {"class_": "marker-label"}))


def _side_label(panel: Panel, text: str, x: float, y: float, gap: float, attrs: dict) -> Markup:
    """A label right of (x, y), or left of it when it would run past the panel's edge (~6.5 px a letter)."""
    if x + gap + 6.5 * len(text) > panel.width:
        return el("text", {**attrs, "x": x - gap, "y": y, "text_anchor": "end"}, text)
    return el("text", {**attrs, "x": x + gap, "y": y}, text)
