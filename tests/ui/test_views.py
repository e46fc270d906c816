"""The web view's pure parts, without a browser or Kafka: view models, charts, map grouping, the store,
reading a replay directory, escaping of untrusted text, and the fixtures themselves."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime

from click.testing import CliRunner

from nkru.web import views
from nkru.web.app import update_message
from nkru.web.geo import group_places, load_basemap, map_view
from nkru.web.io import load_replay_dir
from nkru.web.render import Site, event_context, render, safe_url
from nkru.web.store import Store
from nkru.web.svg import fmt_range, nice_ticks, time_ticks
from schemas.records import Alert, CanonicalEvent
from tests.ui.helpers import FIXTURES, fixture_alerts, fixture_events

AS_OF = datetime(2025, 4, 30, 12, tzinfo=UTC)


def _builder():
    spec = importlib.util.spec_from_file_location("build_fixtures", FIXTURES.parent / "build_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_fixtures_are_what_their_builder_writes():
    build = _builder()
    events = [build.build_event(spec) for spec in build.EVENTS]
    assert [e.model_dump_json() for e in events] == (FIXTURES / "events.jsonl").read_text().splitlines()
    by_id = {e.event_id: e for e in events}
    alerts = [build.build_alert(by_id[eid], slug, kind, sev, text) for eid, slug, kind, sev, text in build.ALERTS]
    assert [a.model_dump_json() for a in alerts] == (FIXTURES / "alerts.jsonl").read_text().splitlines()
    assert all(a.event_id in by_id for a in alerts)


def test_claims_are_grouped_by_quantity_then_source_in_time_order():
    (troops,) = views.claims_by_quantity(fixture_events()["troops-kursk"])
    assert troops.quantity == "troops"
    assert {s.source: [(p.low, p.high) for p in s.points] for s in troops.series} == {
        "NIS": [(1500, 1500), (3000, 3000), (10000, 12000)], "Pentagon": [(10000, 10000)],
        "Kyiv": [(11000, 11000), (11000, 12000)]}
    assert [(c.source, why) for c, why, _ in troops.uncharted] == [("Moscow", "no figure")]
    assert troops.figureless_sources == ["Moscow"]


def test_a_claim_without_a_date_takes_its_articles_time_and_open_ranges_are_charted_at_their_bound():
    event = fixture_events()["shells"]
    claims = [c.model_copy(update={"at": None}) for c in event.claims]
    (containers,) = views.claims_by_quantity(event.model_copy(update={"claims": claims}))
    points = containers.series[0].points
    assert [p.at for p in points] == sorted(m.published for m in event.mentions if m.quantities.get("containers"))
    assert (points[-1].low, points[-1].high) == (20000, 20000)  # "more than 20,000"
    assert fmt_range(20000, None) == "≥20,000" and fmt_range(10000, 12000) == "10,000–12,000"


def test_modality_history_collapses_runs_in_time_order():
    history = views.modality_history(fixture_events()["troops-kursk"])
    assert [(h.modality, h.mentions) for h in history] == [("claimed", 2), ("denied", 1), ("claimed", 4),
                                                          ("confirmed", 2)]


def test_an_alert_shows_its_events_modality_else_one_its_kind_implies():
    alert = next(a for a in fixture_alerts() if a.kind == "confirmation")
    assert views.alert_row(alert, fixture_events()).modality == fixture_events()[alert.event_id].modality
    assert views.alert_row(alert.model_copy(update={"event_id": "unknown"}), {}).modality == "confirmed"


def test_alerts_are_newest_first():
    rows = views.alert_rows(fixture_alerts(), fixture_events())
    times = [r.alert.event_time for r in rows]
    assert times == sorted(times, reverse=True)


def test_country_only_places_are_listed_not_pinned_and_far_places_are_elsewhere():
    events = list(fixture_events().values())
    placed, country_level, unplaced = group_places(events)
    assert {p.name for p in country_level} == {"Russia", "North Korea"}
    assert "Russia" not in {p.name for p in placed} and unplaced == 1
    view = map_view(events, lambda p: "#" + p.anchor)
    assert [p.name for p in view.elsewhere] == ["United Nations"]
    west = {panel.id: svg for panel, svg in view.panels}["west"]
    assert 'data-place="Kursk"' in west and 'data-place="Russia"' not in west
    east = {panel.id: svg for panel, svg in view.panels}["east"]
    assert 'class="country-level" data-country="PRK"' in east


def test_the_basemap_is_valid_and_its_shapes_sit_in_their_panels():
    for panel in load_basemap().panels:
        for shape in panel.shapes:
            inside = [panel.contains(lon, lat) for lon, lat in shape.points]
            assert sum(inside) >= len(inside) / 2, f"{shape.name} lies mostly outside panel {panel.id}"


def test_the_store_keeps_the_latest_revision_and_each_alert_once():
    store, event = Store(log_size=3), fixture_events()["pows-kursk"]
    assert store.add_event(event)
    assert not store.add_event(event.model_copy(update={"revision": 1}))
    assert store.event(event.event_id).revision == event.revision
    alert = fixture_alerts()[0]
    assert store.add_alert(alert) and not store.add_alert(alert)
    assert [u.kind for u in store.updates_after(0)] == ["event", "alert"]
    for n in range(4):
        store.set_status(f"status {n}")
    assert store.updates_after(0) is None  # forgotten: the page must reload
    assert [u.key for u in store.updates_after(5)] == ["status 3"]


def test_a_replay_dir_with_a_bad_line_is_read_and_the_line_counted(tmp_path):
    lines = (FIXTURES / "events.jsonl").read_text().splitlines()
    (tmp_path / "events.jsonl").write_text("\n".join(lines[:2] + ['{"event_id": "broken"}']) + "\n")
    store = Store()
    assert load_replay_dir(tmp_path, store) == (2, 0)
    assert store.snapshot().unreadable == {"events.jsonl": 1}


def test_untrusted_text_is_escaped_and_only_http_links_are_made():
    event = fixture_events()["security-visit"]
    mention = event.mentions[0].model_copy(update={
        "url": "javascript:alert(1)", "outlet": "<b>Outlet</b>",
        "evidence": event.mentions[0].evidence.model_copy(update={"text": "<script>alert(1)</script>"})})
    event = event.model_copy(update={"mentions": [mention]})
    site = Site(as_of=AS_OF)
    html = render("event.html", site, page="event", seq=0, status="", unreadable={}, counts={"events": 1, "alerts": 0},
                  event=event, headline="x", ctx=event_context(event, [], site))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html and "&lt;b&gt;Outlet&lt;/b&gt;" in html
    assert safe_url("https://example.org/a") == "https://example.org/a" and safe_url("data:text/html,x") is None


def test_the_stream_message_of_an_alert_carries_its_rendered_item():
    store = Store()
    for event in fixture_events().values():
        store.add_event(event)
    alert = fixture_alerts()[0]
    store.add_alert(alert)
    message = update_message(store, store.updates_after(0)[-1])
    assert message.startswith(f"id: {store.snapshot().seq}\nevent: alert\n")
    assert f'data-alert-id=\\"{alert.alert_id}\\"' in message


def test_axis_ticks_are_round():
    assert nice_ticks(0, 12500) == [0, 2500, 5000, 7500, 10000, 12500]
    start, end = datetime(2024, 10, 10, tzinfo=UTC), datetime(2025, 5, 2, tzinfo=UTC)
    assert [label for _, label in time_ticks(start, end)] == ["Nov 2024", "Dec 2024", "Jan 2025", "Feb 2025",
                                                              "Mar 2025", "Apr 2025", "May 2025"]


def test_report_command_writes_one_file_and_refuses_a_dir_that_is_no_replay(tmp_path):
    from nkru.web.cli import report

    out = tmp_path / "brief.html"
    result = CliRunner().invoke(report, ["--from", str(FIXTURES), "--out", str(out), "--as-of", "2025-04-30"])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "<script>" in html and "<style>" in html and 'src="http' not in html and "<link rel=\"stylesheet\"" not in html
    assert html.count('class="panel event"') == len(fixture_events())
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(report, ["--from", str(empty), "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 1 and "not a replay output" in result.output


def test_events_and_alerts_validate_against_the_models():
    assert all(isinstance(e, CanonicalEvent) for e in fixture_events().values())
    assert all(isinstance(a, Alert) for a in fixture_alerts())
