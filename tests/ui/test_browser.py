"""The analyst's view in a real headless Chromium: live alerts from Kafka, claims charts, filters, timeline,
map, keyboard navigation and the static report; every page must log no JavaScript error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.kafka_io import headers_for, make_producer
from schemas.records import Alert, CanonicalEvent, Claim, Evidence, MentionRef
from schemas.topics import ALERTS, CANONICAL, topic
from tests.ui.helpers import AS_OF, FIXTURES, fixture_alerts, fixture_events

pytestmark = pytest.mark.kafka

LIVE_AT = datetime(2025, 4, 30, 9, 0, tzinfo=UTC)
LIVE_TEXT = ("Seoul's intelligence service said Russia had delivered at least two Pantsir air-defence batteries "
             "to Pyongyang in return for the troops.")
LIVE_URL = "https://korea-desk.example.net/news/pantsir-batteries"
LIVE_EVENT = CanonicalEvent(
    event_id="live-pantsir", type="technology_transfer", revision=1, first_seen=LIVE_AT, last_seen=LIVE_AT,
    actors=[{"code": "RUS", "role": "agent"}, {"code": "PRK", "role": "recipient"}], location=None,
    quantities={"systems": {"low": 2, "high": None}}, event_date="2025-04", modality="claimed",
    mentions=[MentionRef(article_id=LIVE_URL, url=LIVE_URL, outlet="Sample Korea Desk", published=LIVE_AT,
                         modality="claimed", source_of_claim="NIS", quantities={"systems": {"low": 2, "high": None}},
                         evidence=Evidence(text=LIVE_TEXT, start=0, end=len(LIVE_TEXT)))],
    independent_sources=1, ontology_version="1.0.0",
    claims=[Claim(source="NIS", quantity="systems", low=2, high=None, at=LIVE_AT, article_id=LIVE_URL,
                  modality="claimed")])
LIVE_ALERT = Alert(alert_id="live-pantsir-1", event_id="live-pantsir", revision=1, kind="new", severity="high",
                   event_type="technology_transfer", summary="NIS: Russia delivered Pantsir air defences to Pyongyang",
                   evidence=[Evidence(text=LIVE_TEXT, start=0, end=len(LIVE_TEXT))], links=[LIVE_URL],
                   event_time=LIVE_AT, actors=["PRK", "RUS"], rule_id="test", ontology_version="1.0.0")


def produce(kafka, event: CanonicalEvent, alert: Alert) -> None:
    producer = make_producer(kafka)
    try:
        for name, record, key in ((CANONICAL, event, event.event_id), (ALERTS, alert, alert.event_id)):
            t = topic(name, kafka.topic_prefix)
            producer.send(t.name, key=key.encode(), value=t.encode(record), headers=headers_for(t))
        producer.flush(timeout=30)
    finally:
        producer.close()


def visible_alerts(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#alert-list > li:not([hidden])",
        "els => els.map(e => ({id: e.dataset.alertId, type: e.dataset.type, actors: e.dataset.actors,"
        " modality: e.dataset.modality, severity: e.dataset.severity}))")


def claim_points(page, quantity: str) -> dict[str, list[tuple[int, int]]]:
    rows = page.eval_on_selector_all(
        f'svg.claims-chart[data-quantity="{quantity}"] g.claim-point',
        "els => els.map(e => [e.dataset.source, e.dataset.at, +e.dataset.low, +e.dataset.high])")
    series: dict[str, list[tuple[int, int]]] = {}
    for source, _at, low, high in sorted(rows, key=lambda r: r[1]):
        series.setdefault(source, []).append((low, high))
    return series


def test_alert_appears_live_after_a_record_lands_on_the_topic(server, page, screenshot):
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-live=open]")
    page.evaluate("window.__notReloaded = true")
    before = page.locator("#alert-list > li").count()
    assert page.locator(f'[data-alert-id="{LIVE_ALERT.alert_id}"]').count() == 0

    produce(server.kafka, LIVE_EVENT, LIVE_ALERT)

    item = page.locator(f'#alert-list > li[data-alert-id="{LIVE_ALERT.alert_id}"]')
    item.wait_for(state="visible", timeout=30_000)
    assert page.evaluate("window.__notReloaded") is True, "the page reloaded instead of updating live"
    assert page.locator("#alert-list > li").count() == before + 1
    assert page.locator("#alert-list > li").first.get_attribute("data-alert-id") == LIVE_ALERT.alert_id
    classes = item.get_attribute("class").split()
    assert "sev-high" in classes and "fresh" in classes
    assert item.locator(".badge.sev").inner_text().lower() == "high"
    assert page.locator("[data-filter-count]").first.inner_text() == f"Showing {before + 1} of {before + 1}"
    screenshot(page, "alerts")

    item.locator("a[data-primary]").click()
    page.wait_for_url("**/events/live-pantsir")
    assert page.eval_on_selector_all("svg.claims-chart g.claim-point", "els => els.length") == 1
    assert LIVE_TEXT in page.locator("ol.mentions blockquote").first.inner_text()


def test_event_page_shows_the_claims_chart_with_each_sources_figures(server, page, screenshot):
    page.goto(server.url + "/events/troops-kursk")
    assert claim_points(page, "troops") == {
        "NIS": [(1500, 1500), (3000, 3000), (10000, 12000)],
        "Pentagon": [(10000, 10000)],
        "Kyiv": [(11000, 11000), (11000, 12000)],
    }
    chart = 'svg.claims-chart[data-quantity="troops"]'
    assert page.locator(f"{chart} rect.band").count() == 2  # the two low–high ranges
    assert page.locator(f'{chart} g.claim-remark[data-source="Moscow"][data-modality="denied"]').count() == 1
    nis = page.locator(f'{chart} g.claim-point[data-source="NIS"]')
    boxes = [nis.nth(i).bounding_box() for i in range(3)]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"], "later claims must sit further right"
    assert boxes[0]["y"] > boxes[1]["y"] > boxes[2]["y"], "bigger figures must sit higher"
    assert [t.strip() for t in page.locator(".legend li").all_inner_texts()][:3] == [
        "NIS (3 figures)", "Pentagon (1 figure)", "Kyiv (2 figures)"]
    history = page.eval_on_selector_all("ol.history > li", "els => els.map(e => e.dataset.modality)")
    assert history == ["claimed", "denied", "claimed", "confirmed"]
    mentions = page.locator("ol.mentions > li")
    assert mentions.count() == 9
    assert "Sample Korea Desk" in mentions.first.inner_text()
    assert "1,500 North Korean special forces" in mentions.first.locator("blockquote").inner_text()
    page.locator("details.claims-table summary").click()
    assert page.locator("details.claims-table tbody tr").count() == 7
    page.locator(chart).scroll_into_view_if_needed()
    screenshot(page, "event")

    page.goto(server.url + "/events/casualties-kursk")
    assert claim_points(page, "killed_or_wounded") == {
        "Kyiv": [(200, 200), (3000, 3000), (4000, 5000)],
        "NIS": [(1100, 1100), (3000, 3000), (4700, 4700)],
        "JCS": [(3000, 3000), (4000, 4000)],
    }


def test_filters_narrow_the_alert_list_and_the_event_table(server, page):
    alerts, events = fixture_alerts(), fixture_events()
    modality = {a.alert_id: events[a.event_id].modality for a in alerts}
    page.goto(server.url + "/")
    form = "form[data-filter-target=alert-list]"

    page.select_option(f"{form} select[name=type]", "casualties")
    shown = visible_alerts(page)
    assert {a["id"] for a in shown} == {a.alert_id for a in alerts if a.event_type == "casualties"}
    assert "type=casualties" in page.url

    page.select_option(f"{form} select[name=type]", "troop_deployment")
    page.select_option(f"{form} select[name=severity]", "high")
    assert {a["id"] for a in visible_alerts(page)} == {
        a.alert_id for a in alerts if a.event_type == "troop_deployment" and a.severity == "high"}

    page.click(f"{form} button[type=reset]")
    page.select_option(f"{form} select[name=actors]", "USA")
    assert {a["id"] for a in visible_alerts(page)} == {a.alert_id for a in alerts if "USA" in a.actors}
    page.select_option(f"{form} select[name=actors]", "")
    page.select_option(f"{form} select[name=modality]", "denied")
    assert {a["id"] for a in visible_alerts(page)} == {a.alert_id for a in alerts if modality[a.alert_id] == "denied"}

    page.click(f"{form} button[type=reset]")
    page.wait_for_function("document.querySelectorAll('#alert-list > li[hidden]').length === 0")

    page.goto(server.url + "/?type=casualties")  # a filtered view can be bookmarked
    assert len(visible_alerts(page)) == sum(a.event_type == "casualties" for a in alerts)
    assert page.locator(f"{form} select[name=type]").input_value() == "casualties"

    page.goto(server.url + "/events")
    page.select_option("form[data-filter-target=event-table] select[name=type]", "weapons_transfer")
    rows = page.eval_on_selector_all("#event-table tbody tr:not([hidden])", "els => els.map(e => e.dataset.eventId)")
    assert set(rows) == {e.event_id for e in events.values() if e.type == "weapons_transfer"}


def test_timeline_and_map_views(server, page, screenshot):
    events = fixture_events()
    page.goto(server.url + "/events")
    on_timeline = set(page.eval_on_selector_all("svg.timeline a.timeline-event", "els => els.map(e => e.dataset.eventId)"))
    assert set(events) <= on_timeline
    assert page.locator('svg.timeline a[data-event-id="tumen-bridge"] circle.new-ring').count() == 1
    assert page.locator('svg.timeline a[data-event-id="treaty"] circle.new-ring').count() == 0
    lanes = page.locator("svg.timeline text.lane-label").all_text_contents()
    assert "Troop deployment" in lanes and "Casualties" in lanes
    screenshot(page, "timeline")

    page.goto(server.url + "/map")
    kursk = page.locator('a.place-marker[data-place="Kursk"]')
    assert kursk.get_attribute("data-precision") == "region"
    assert int(kursk.get_attribute("data-mentions")) == sum(
        len(e.mentions) for e in events.values() if e.location and e.location.name == "Kursk")
    sizes = {p: float(page.locator(f'a.place-marker[data-place="{p}"] circle').get_attribute("r"))
             for p in ("Kursk", "Khasan")}
    assert sizes["Kursk"] > sizes["Khasan"], "marker size grows with mentions"
    for country_only in ("Russia", "North Korea"):  # never pinned to a centroid
        assert page.locator(f'a.place-marker[data-place="{country_only}"]').count() == 0
    assert page.locator('.country-only li[data-country="PRK"]').count() == 1
    assert page.locator('svg g.country-level[data-country="PRK"]').count() == 1
    assert page.locator('a.place-marker[data-place="United Nations"]').count() == 0  # outside both panels
    assert "outside the map panels" in page.locator('ol.places > li[data-place="United Nations"]').inner_text()
    screenshot(page, "map")
    kursk.click()
    assert page.evaluate("location.hash").startswith("#place-kursk")


def test_keyboard_navigation(server, page):
    page.goto(server.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    ids = page.eval_on_selector_all("#alert-list > li", "els => els.map(e => e.dataset.alertId)")
    focused = "document.activeElement.dataset.alertId"
    page.keyboard.press("j")
    assert page.evaluate(focused) == ids[0]
    page.keyboard.press("j")
    assert page.evaluate(focused) == ids[1]
    page.keyboard.press("k")
    assert page.evaluate(focused) == ids[0]
    target = page.locator("#alert-list > li").first.locator("a[data-primary]").get_attribute("href")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{target}")

    page.keyboard.press("/")  # no filter form on an event page: nothing happens, nothing breaks
    page.goto(server.url + "/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "type"

    page.goto(server.url + "/map")
    for _ in range(40):  # every marker is reachable with Tab
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('place-marker')"):
            break
    else:
        pytest.fail("Tab never reached a map marker")
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash").startswith("#place-")


def test_static_report_opens_without_network(page, screenshot, tmp_path):
    from click.testing import CliRunner

    from nkru.web.cli import report

    out = tmp_path / "report.html"
    result = CliRunner().invoke(report, ["--from", str(FIXTURES), "--out", str(out), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    requested: list[str] = []

    def only_the_file(route):
        requested.append(route.request.url)
        return route.continue_() if route.request.url.startswith("file:") else route.abort()

    page.route("**/*", only_the_file)
    page.goto(out.as_uri())
    assert [u for u in requested if not u.startswith("file:")] == []
    screenshot(page, "report", docs=False)
    for section in ("#alerts", "#events", "#map", "#event-troops-kursk", "#event-casualties-kursk"):
        assert page.locator(section).count() == 1, section
    assert claim_points(page, "troops")["NIS"] == [(1500, 1500), (3000, 3000), (10000, 12000)]
    assert page.locator("#event-troops-kursk ol.mentions > li").count() == 9
    page.select_option("form[data-filter-target=alert-list] select[name=type]", "casualties")
    assert {a["type"] for a in visible_alerts(page)} == {"casualties"}
    page.locator('a.timeline-event[data-event-id="treaty"]').click()
    assert page.evaluate("location.hash") == "#event-treaty"
    heading = page.locator("#event-treaty h2").bounding_box()
    assert heading["y"] > page.locator("header.top").bounding_box()["height"], "the sticky header hides the target"
