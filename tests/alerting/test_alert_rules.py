"""Alert rules as data and the pure judgement of revisions (`pipeline.alerting`), without Beam."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from pipeline.alerting import (
    DEFAULT_PATH,
    AlertStep,
    RulesError,
    alerts_batch,
    evaluate,
    load_rules,
    routes_for,
)
from pipeline.stages import stable_id
from schemas.records import Actor, CanonicalEvent, Evidence, Location, MentionRef, Quantity

RULES = load_rules()
T0 = datetime(2024, 10, 18, 9, tzinfo=UTC)


def ref(article, day=0, modality="claimed", quantities=None, source="NIS", start=0, cluster=None):
    return MentionRef(article_id=article, url=f"https://example.test/{article}", outlet="o",
                      published=T0 + timedelta(days=day), modality=modality, source_of_claim=source,
                      quantities={k: Quantity(low=v[0], high=v[1]) if isinstance(v, tuple) else Quantity(low=v, high=v)
                                  for k, v in (quantities or {}).items()},
                      evidence=Evidence(text=f"sentence of {article}", start=start, end=start + 20),
                      cluster_id=cluster or article)


def revisions(mentions, type="troop_deployment", places=None, event_date=None, event_id="ev1"):
    """Revision r of an event holding the first r mentions (places: the canonical place at each revision)."""
    out = []
    for r in range(1, len(mentions) + 1):
        place = (places or [None] * len(mentions))[r - 1]
        out.append(CanonicalEvent(
            event_id=event_id, type=type, revision=r, first_seen=mentions[0].published,
            last_seen=mentions[r - 1].published, actors=[Actor(code="PRK"), Actor(code="RUS")],
            location=Location(name=place, country="RUS") if place else None, event_date=event_date,
            quantities={k: q for m in mentions[:r] for k, q in m.quantities.items()},
            modality=mentions[r - 1].modality, mentions=mentions[:r], independent_sources=r, ontology_version="t"))
    return out


def judge(events, rules=RULES):
    facts, alerts = None, []
    for event in events:
        facts, alert = evaluate(facts, event, rules)
        alerts.append(alert)
    return alerts


def test_the_bundled_rules_validate_and_say_what_is_watched():
    assert DEFAULT_PATH.name == "alert_rules.yaml"
    assert "troop_deployment" in RULES.new_event.types and "other" not in RULES.new_event.types
    assert {r.trigger for r in RULES.updates} == {"first_confirmation", "first_denial", "figure_change",
                                                  "new_place", "new_weapon"}


@pytest.mark.parametrize("broken", [
    {"updates": [{"id": "x", "trigger": "moon_phase", "severity": "low"}]},
    {"updates": [{"id": "x", "trigger": "figure_change", "severity": "low", "ratio": 0.5}]},
    {"routes": []},
    {"new_event": {"id": "n", "types": ["troop_deployment"], "modalities": ["claimed"], "severity": "urgent"}},
])
def test_invalid_rules_are_refused(tmp_path, broken):
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8")) | broken
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(RulesError):
        load_rules(path)


def test_a_missing_rules_file_is_a_rules_error(tmp_path):
    with pytest.raises(RulesError):
        load_rules(tmp_path / "nope.yaml")


def test_a_new_event_of_a_watched_type_raises_one_new_alert():
    [alert] = judge(revisions([ref("a", quantities={"troops": 1500})], event_date="2024-10-15"))
    assert alert.kind == "new" and alert.severity == "high" and alert.revision == 1
    assert alert.alert_id == stable_id("alert", "ev1", "1", "new")
    assert "\n" not in alert.summary and len(alert.summary) <= 280 and "troops 1,500" in alert.summary
    assert alert.links == ["https://example.test/a"] and alert.evidence[0].text == "sentence of a"
    assert alert.event_time == datetime(2024, 10, 15, tzinfo=UTC) and alert.actors == ["PRK", "RUS"]
    assert alert.rule_id == f"new-event@{RULES.version}"


def test_unwatched_types_speculation_passing_references_and_history_do_not_announce():
    assert judge(revisions([ref("a")], type="other")) == [None]
    assert judge(revisions([ref("a", modality="hypothetical_or_concern")])) == [None]
    assert judge(revisions([ref("a", start=1_500)])) == [None]
    assert judge(revisions([ref("a")], event_date="2024-08")) == [None]  # recalled, not news
    late = judge(revisions([ref("a", modality="hypothetical_or_concern"), ref("b", day=1)]))
    assert late[0] is None and late[1].kind == "new" and late[1].revision == 2


def test_reprints_and_repeated_figures_raise_nothing():
    alerts = judge(revisions([ref("a", quantities={"troops": 1500}),
                              ref("b", day=1, quantities={"troops": 10_000}, cluster="a"),  # a reprint
                              ref("c", day=1, quantities={"troops": 1600})]))  # within the ratio
    assert [a.kind if a else None for a in alerts] == ["new", None, None]


def test_a_figure_moving_by_more_than_the_ratio_is_an_update():
    alerts = judge(revisions([ref("a", quantities={"troops": 1500}), ref("b", day=5, quantities={"troops": (10_000, 12_000)}),
                              ref("c", day=9, quantities={"troops": 11_000})]))
    assert alerts[1].kind == "update" and alerts[1].severity == "high" and "1,500 → 10,000–12,000" in alerts[1].summary
    assert alerts[2] is None
    jcs = judge(revisions([ref("a", quantities={"killed_or_wounded": 3000}, source="JCS"),
                           ref("b", day=30, quantities={"killed_or_wounded": 4000}, source="JCS")], type="casualties"))
    assert jcs[1].kind == "update" and "3,000 → 4,000" in jcs[1].summary
    small = judge(revisions([ref("a", quantities={"brigades": 2}), ref("b", day=1, quantities={"brigades": 3})]))
    assert small[1] is None  # below the rule's min_value


def test_first_official_confirmation_and_denial_only_once():
    alerts = judge(revisions([ref("a"), ref("b", modality="confirmed", source="KCNA"),
                              ref("c", modality="confirmed"), ref("d", modality="denied", source="Kremlin"),
                              ref("e", modality="denied")]))
    assert [a.kind if a else None for a in alerts] == ["new", "confirmation", None, "denial", None]
    assert alerts[1].severity == "high" and "confirmed by KCNA" in alerts[1].summary


def test_a_new_place_and_a_new_weapon_are_updates():
    alerts = judge(revisions([ref("a"), ref("b"), ref("c"), ref("d")], places=["Russia", "Kursk", "Kursk", "Russia"]))
    assert [a.kind if a else None for a in alerts] == ["new", "update", None, None]
    assert alerts[1].severity == "low" and "new place Kursk" in alerts[1].summary
    weapons = judge(revisions([ref("a", quantities={"shells": 1000}), ref("b", quantities={"howitzers_M1989": 100})],
                              type="weapons_transfer"))
    assert weapons[1].kind == "update" and weapons[1].severity == "high" and "howitzers" in weapons[1].summary


def test_several_triggers_make_one_alert_with_the_strongest_kind_and_severity():
    [_, alert] = judge(revisions([ref("a", quantities={"troops": 1500}),
                                  ref("b", modality="denied", quantities={"troops": 12_000})], places=[None, "Kursk"]))
    assert alert.kind == "denial" and alert.severity == "high"
    assert alert.rule_id == f"first-denial+figure-change+new-place@{RULES.version}"


def test_routes_every_alert_to_all_and_high_ones_also_to_high():
    [new] = judge(revisions([ref("a")]))
    assert routes_for(new, RULES) == ["alerts", "alerts-high"]
    low = new.model_copy(update={"severity": "low"})
    assert routes_for(low, RULES) == ["alerts"]


def test_each_revision_is_judged_once_in_revision_order_whatever_the_delivery():
    events = revisions([ref("a", quantities={"troops": 1500}), ref("b", quantities={"troops": 9000}),
                        ref("c", modality="confirmed")])
    expected = [a.model_dump_json() for a in alerts_batch(events, RULES)]
    for seed in range(3):
        shuffled = events + events[:1]  # and one redelivered
        random.Random(seed).shuffle(shuffled)
        assert [a.model_dump_json() for a in alerts_batch(shuffled, RULES)] == expected
    state, out = AlertStep(RULES).run("ev1", None, events[:2])
    _, again = AlertStep(RULES).run("ev1", state, events[:2])
    assert len(out) == 2 and again == []


def _new_then_twin(twin_day, twin_place, first_place="Kursk", twin_type="troop_deployment", undated=False):
    first = revisions([ref("a")], places=[first_place], event_id="ev-a")
    twin_ref = ref("b", day=twin_day)
    if undated:
        twin_ref = twin_ref.model_copy(update={"published": None})
    twin = revisions([twin_ref], type=twin_type, places=[twin_place], event_id="ev-b")
    if undated:
        twin = [e.model_copy(update={"first_seen": None, "last_seen": None}) for e in twin]
    return {a.event_id: a for a in alerts_batch(first + twin, RULES)}


def test_the_same_news_under_a_second_event_id_is_an_update_not_a_second_new():
    alerts = _new_then_twin(twin_day=2, twin_place="Kursk")
    assert alerts["ev-a"].kind == "new"
    repeat = alerts["ev-b"]
    assert repeat.kind == "update" and "ev-a" in repeat.summary and repeat.summary.startswith("UPDATE")
    assert repeat.alert_id == stable_id("alert", "ev-b", "1", "update")


def test_other_news_still_announces_another_type_or_a_report_past_the_window():
    assert _new_then_twin(twin_day=2, twin_place="Kursk", twin_type="casualties")["ev-b"].kind == "new"
    assert _new_then_twin(twin_day=30, twin_place="Kursk")["ev-b"].kind == "new"  # past the type's window


def test_an_undated_report_of_a_type_already_announced_for_the_same_actors_is_an_update():
    assert _new_then_twin(twin_day=0, twin_place=None, undated=True)["ev-b"].kind == "update"
    assert _new_then_twin(twin_day=0, twin_place=None, twin_type="casualties", undated=True)["ev-b"].kind == "new"


def test_settling_new_alerts_is_the_same_whatever_the_delivery_order():
    events = (revisions([ref("a"), ref("b", day=1, quantities={"troops": 3000})], places=["Kursk", "Kursk"],
                        event_id="ev-a")
              + revisions([ref("c", day=1)], places=["Kursk"], event_id="ev-b")
              + revisions([ref("d", day=3)], type="casualties", event_id="ev-c"))
    expected = sorted(a.model_dump_json() for a in alerts_batch(events, RULES))
    for seed in range(4):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        assert sorted(a.model_dump_json() for a in alerts_batch(shuffled, RULES)) == expected
    kinds = {(a.event_id, a.revision): a.kind for a in alerts_batch(events, RULES)}
    assert kinds[("ev-a", 1)] == "new" and kinds[("ev-b", 1)] == "update" and kinds[("ev-c", 1)] == "new"


def test_same_news_needs_places_not_apart_except_for_visits_and_transfers():
    from pipeline.alerting import NewsView, same_news
    from pipeline.merge_match import MergeSettings

    kursk = Location(name="Kursk", country="RUS", lat=51.73, lon=36.19, precision="region")
    rajin = Location(name="Rajin", country="PRK", lat=42.24, lon=130.28, precision="city")
    day = (1_000, 2_000)

    def view(type, place):
        return NewsView("e-" + place.name, type, 1_000, day, frozenset({"PRK", "RUS"}), place, ())

    settings = MergeSettings()
    assert not same_news(view("troop_deployment", kursk), view("troop_deployment", rajin), settings)
    assert same_news(view("weapons_transfer", kursk), view("weapons_transfer", rajin), settings)


def test_an_event_s_facts_outlive_the_last_mention_merging_can_add_to_it():
    """A dated reference joins an event up to `reach_days` after its latest report (the build keeps it a day
    more): forgotten facts would judge that revision as a first one."""
    from pipeline.alerting import FACTS_HORIZON_DAYS
    from pipeline.merge_match import MergeSettings

    settings = MergeSettings()
    assert FACTS_HORIZON_DAYS > max(settings.horizon_days, settings.reach_days) + 1
