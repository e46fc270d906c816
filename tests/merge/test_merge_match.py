"""Compatibility and evidence between a mention and an event (`pipeline.merge_match`), without Beam."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.merge_match import (
    DAY,
    EventView,
    MergeSettings,
    date_interval,
    dated_reference,
    event_days,
    fit,
    fixed_interval,
    place_relation,
    quantity_family,
    referable,
    report_interval,
    running_total,
)
from schemas.records import Location, parse_timestamp

S = MergeSettings()


def view_of(*mentions) -> EventView:
    view = EventView(event_id="e", type=mentions[0].event.type)
    for m in mentions:
        view.take_in(m, True, S)
    return view


def test_partial_dates_are_intervals():
    year, month, day = date_interval("2024"), date_interval("2024-02"), date_interval("2024-02-29")
    assert (year[1] - year[0] + 1) == 366 * DAY and (month[1] - month[0] + 1) == 29 * DAY
    assert day[1] - day[0] + 1 == DAY and date_interval("soon") is None and date_interval(None) is None


def test_a_publication_date_known_to_the_month_is_the_whole_month():
    whole = report_interval(datetime(2024, 3, 1, tzinfo=UTC))
    assert whole == date_interval("2024-03")
    exact = report_interval(datetime(2024, 3, 1, 9, 30, tzinfo=UTC))
    assert exact[0] == exact[1]


def test_a_day_fixed_in_an_article_dated_only_to_the_month_runs_to_the_month_s_end(make_mention):
    """"On Thursday" in a piece dated "2024-03" was resolved against 1 March (a Friday): 29 February."""
    vague = make_mention("m", published="2024-03-01T00:00:00Z", type="other", event_date="2024-02-29")
    assert fixed_interval(vague) == (date_interval("2024-02-29")[0], date_interval("2024-03")[1])
    exact = make_mention("x", published="2024-03-01T09:00:00Z", type="other", event_date="2024-02-29")
    assert fixed_interval(exact) == date_interval("2024-02-29")
    veto = make_mention("v", published="2024-03-28T09:00:00Z", type="other", event_date="2024-03-28")
    assert fit(veto, view_of(vague), S) is not None and fit(veto, view_of(exact), S) is None


def test_place_relations(places):
    kursk_region = Location(name="Kursk region", country="RUS", precision="region")
    assert place_relation(places["Kursk"], kursk_region, S) == "same"
    assert place_relation(places["Russia"], places["Kursk"], S) == "nested"
    assert place_relation(places["Rajin"], Location(name="Rason", country="PRK", lat=42.26, lon=130.30), S) == "near"
    assert place_relation(places["Pyongyang"], places["Moscow"], S) == "apart"
    assert place_relation(Location(name="somewhere"), Location(name="elsewhere"), S) == "unknown"
    assert place_relation(None, places["Moscow"], S) == "unknown"


def test_reports_far_apart_are_different_events(make_mention):
    first = make_mention("a", published="2024-10-18T09:00:00Z", place="Kursk")
    assert fit(make_mention("b", published="2024-10-25T09:00:00Z", place="Kursk"), view_of(first), S) is not None
    assert fit(make_mention("c", published="2024-11-20T09:00:00Z", place="Kursk"), view_of(first), S) is None


def test_a_recalled_old_event_does_not_fit_a_new_story(make_mention):
    visit = make_mention("a", published="2024-01-16T09:00:00Z", type="leader_meeting_or_visit", place="Moscow")
    recall = make_mention("b", published="2024-01-17T09:00:00Z", type="leader_meeting_or_visit", place="Moscow",
                          event_date="2023-10")
    assert fit(recall, view_of(visit), S) is None


def test_disjoint_actors_and_distant_places_veto_but_transfers_have_two_places(make_mention):
    base = make_mention("a", place="Pyongyang")
    assert fit(make_mention("b", actors=("USA",), place="Pyongyang"), view_of(base), S) is None
    assert fit(make_mention("c", place="Moscow"), view_of(base), S) is None
    shipment = make_mention("d", type="weapons_transfer", place="Rajin")
    assert fit(make_mention("e", type="weapons_transfer", place="Dunai"), view_of(shipment), S) is not None


def test_specific_evidence_is_place_figure_source_cluster_not_time_and_actors(make_mention):
    base = make_mention("a", quantities={"troops": 1500}, source="NIS")
    bare = fit(make_mention("b"), view_of(base), S)
    assert bare is not None and bare.specific == 0 and bare.dated
    assert fit(make_mention("c", quantities={"troops": 1500}), view_of(base), S).specific >= 1.5
    assert fit(make_mention("d", source="NIS"), view_of(base), S).specific == 0.5
    assert fit(make_mention("e", cluster="a", duplicate_of="a"), view_of(base), S).specific >= 4


def test_figure_families_compare_variants():
    assert quantity_family("howitzers_M1989") == "howitzers" == quantity_family("Howitzers")


def test_a_shared_whole_country_is_weak_evidence_a_shared_city_is_specific(make_mention):
    in_country = fit(make_mention("b", place="Russia"), view_of(make_mention("a", place="Russia")), S)
    assert in_country is not None and in_country.specific == 0  # no specific fact: below `min_specific`
    in_city = fit(make_mention("d", place="Moscow"), view_of(make_mention("c", place="Moscow")), S)
    assert in_city.specific == 2.0 and in_city.total == in_country.total + 1.0
    nested = fit(make_mention("f", place="Moscow"), view_of(make_mention("e", place="Russia")), S)
    assert nested.specific == 1.0


def test_inside_a_story_only_two_places_finer_than_a_country_keep_reports_apart(make_mention):
    """Troops "sent to Russia" and "fighting in Ukraine": one deployment once the article is in the story."""
    russia = view_of(make_mention("a", place="Russia"))
    assert fit(make_mention("b", place="Ukraine"), russia, S) is None
    assert fit(make_mention("b", place="Ukraine"), russia, S, in_story=True) is not None
    assert fit(make_mention("c", place="Kyiv"), russia, S, in_story=True) is not None
    kursk = view_of(make_mention("d", place="Kursk"))
    assert fit(make_mention("e", place="Kyiv"), kursk, S, in_story=True) is None


def test_an_undated_mention_may_join_the_event_its_article_s_lede_dated(make_mention):
    """A piece of June recalls an April summit in its lede, then says what happened there (no date)."""
    kw = {"type": "leader_meeting_or_visit", "actors": ("RUS", "PRK")}
    dated = make_mention("a", published="2024-06-20T08:00:00Z", event_date="2024-04-02", start=0, **kw)
    then = make_mention("a", published="2024-06-20T08:00:00Z", index=1, start=43, **kw)
    assert fit(then, view_of(dated), S) is None  # an undated mention reports something recent ...
    assert fit(then, view_of(dated), S, in_story=True, dated_by_lede=True) is not None  # ... unless so dated


def test_a_text_that_fixes_the_day_of_an_event_is_about_it_whenever_it_appears(make_mention):
    """"The talks took place on 4 March", two months later: the publication time is no evidence against it."""
    visit = {"type": "leader_meeting_or_visit", "actors": ("RUS", "PRK")}
    reported = view_of(make_mention("a", published="2025-03-05T08:00:00Z", event_date="2025-03-05", place="Pyongyang",
                                    **visit))

    def later(event_date, published="2025-05-02T08:00:00Z"):
        return make_mention("b", published=published, event_date=event_date, **visit)

    assert dated_reference(later("2025-03-04"), reported, S) and fit(later("2025-03-04"), reported, S) is not None
    assert dated_reference(later("2025-03-05"), reported, S)
    for not_the_day in ("2025-03-02", "2025-03", None):  # two days off, a month, no date: the windows decide
        assert not dated_reference(later(not_the_day), reported, S) and fit(later(not_the_day), reported, S) is None
    first_report_only = view_of(make_mention("a", published="2025-03-05T08:00:00Z", **visit))
    assert event_days(first_report_only, S) == (report_interval(parse_timestamp("2025-03-02T08:00:00Z"))[0],
                                                report_interval(parse_timestamp("2025-03-05T08:00:00Z"))[1])
    assert dated_reference(later("2025-03-04"), first_report_only, S)
    season = view_of(make_mention("a", published="2025-03-05T08:00:00Z", event_date="2025-03-05", **visit),
                     make_mention("c", published="2025-03-20T08:00:00Z", event_date="2025-03-19", **visit))
    assert event_days(season, S) is None and not dated_reference(later("2025-03-04"), season, S)


def test_a_dated_reference_reaches_lede_events_with_known_days_up_to_reach_days(make_mention):
    view = view_of(make_mention("a", published="2025-03-05T08:00:00Z", event_date="2025-03-05",
                                type="leader_meeting_or_visit"))
    latest = view.latest
    assert referable(view, latest + S.reach_days * DAY, S) and not referable(view, latest + S.reach_days * DAY + 1, S)
    view.lede = False
    assert not referable(view, latest, S)


def test_a_larger_count_of_what_was_shipped_is_a_running_total_of_the_transfer(make_mention):
    """"Nearly 2,000 containers" six weeks after "as many as 1,000": the same transfer, counted further."""
    ship = {"type": "weapons_transfer", "actors": ("PRK", "RUS")}
    shipped = view_of(make_mention("a", published="2023-10-16T08:00:00Z", quantities={"containers": (None, 1000)},
                                   **ship))

    def later(quantities, **kw):
        return make_mention("b", published="2023-11-29T08:00:00Z", quantities=quantities, **{**ship, **kw})

    grown = later({"containers": 2000})
    assert running_total(grown, shipped, S)
    assert fit(grown, shipped, S) is None  # past the window: only as a running total ...
    assert fit(grown, shipped, S, running=True) is not None  # ... does its time not count against it
    assert not running_total(later({"containers": 1000}), shipped, S)  # the same figure may be the old one recalled
    assert not running_total(later({"containers": 900}), shipped, S)
    assert not running_total(later({"containers": 20_000}), shipped, S)  # ten times more: something else
    assert not running_total(later({"shells": 2000}), shipped, S)  # another count
    assert not running_total(later({"containers": 2000}, type="troop_deployment"), shipped, S)  # another type
    troops = view_of(make_mention("a", published="2024-10-18T08:00:00Z", quantities={"troops": 1_500}))
    assert running_total(make_mention("b", published="2024-11-20T08:00:00Z", quantities={"troops": (10_000, 12_000)}),
                         troops, S)  # the force sent, counted further
    fair = {"type": "economic_cooperation", "actors": ("PRK", "RUS")}
    deal = view_of(make_mention("a", published="2024-10-18T08:00:00Z", quantities={"cost_usd": 1_000_000}, **fair))
    assert not running_total(make_mention("b", published="2024-11-20T08:00:00Z", quantities={"cost_usd": 2_000_000},
                                          **fair), deal, S)  # a price is not a running count


def test_a_lede_transfer_with_figures_stays_referable_for_a_running_total(make_mention):
    shipped = view_of(make_mention("a", published="2023-10-16T08:00:00Z", quantities={"containers": 1000},
                                   type="weapons_transfer"))
    shipped.anchor = shipped.dates = None  # no days known: no dated reference, but a count
    assert event_days(shipped, S) is None
    assert referable(shipped, shipped.latest + S.reach_days * DAY, S)
    assert not referable(shipped, shipped.latest + S.reach_days * DAY + 1, S)
    shipped.figures = {}
    assert not referable(shipped, shipped.latest, S)
