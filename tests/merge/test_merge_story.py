"""Story assignment and event placement (`pipeline.merge_story`, `merge_batch`), without Beam."""

from __future__ import annotations

import random

from pipeline.merge_build import merge_batch
from pipeline.merge_match import MergeSettings
from pipeline.merge_story import AssignStep, gather
from pipeline.stages import mentions_of
from schemas.records import EnrichedArticle, RawArticle

S = MergeSettings()


def events_by_articles(merged):
    return sorted(tuple(sorted({m.article_id for m in e.mentions})) for e in merged.events)


def test_the_lede_is_the_first_mention_in_the_text_and_those_next_to_it(make_mention):
    mentions = [make_mention("a", index=0, start=900), make_mention("a", index=1, start=40, type="casualties"),
                make_mention("a", index=2, start=120, type="weapons_transfer")]
    article = gather(mentions, S)
    assert [m.event.evidence.start for m in article.mentions] == [40, 120, 900]
    assert article.ledes == {mentions[1].mention_id, mentions[2].mention_id}


def test_reports_of_one_visit_share_an_event(make_mention):
    visit = {"type": "leader_meeting_or_visit", "place": "Pyongyang", "actors": ("RUS", "PRK")}
    revisions = merge_batch([make_mention("a", published="2024-11-29T06:00:00Z", **visit),
                             make_mention("b", published="2024-11-29T10:00:00Z", **visit),
                             make_mention("c", published="2024-11-30T08:00:00Z", event_date="2024-11-29", **visit)])
    assert events_by_articles(revisions) == [("a", "b", "c")]


def test_a_passing_reference_needs_more_evidence_than_a_lede_to_tie_two_stories(make_mention):
    """Story 1 is a deployment; story 2 is a visit whose article recalls a deployment further down."""
    deployment = make_mention("dep", published="2024-11-01T08:00:00Z", place="Kursk", text="troops moved to Kursk")
    visit = make_mention("visit", published="2024-11-04T08:00:00Z", index=0, start=0,
                         type="leader_meeting_or_visit", place="Moscow", text="minister received in Moscow")

    def recall(start):
        return make_mention("visit", published="2024-11-04T08:00:00Z", index=1, start=start, place="Kursk",
                            text="soldiers fighting near the border")

    assert ("dep", "visit") not in events_by_articles(merge_batch([deployment, visit, recall(start=1_200)]))
    assert ("dep", "visit") in events_by_articles(merge_batch([deployment, visit, recall(start=60)]))


def test_a_reprint_joins_the_story_of_its_original(make_mention):
    original = make_mention("orig", published="2024-10-18T09:00:00Z", place="Kursk")
    reprint = make_mention("copy", published="2024-10-30T09:00:00Z", cluster="orig", duplicate_of="orig",
                           start=700)
    assert events_by_articles(merge_batch([original, reprint])) == [("copy", "orig")]


def test_an_undated_article_that_fits_two_stories_alike_opens_its_own(make_mention):
    one = make_mention("one", published="2024-10-18T09:00:00Z", place="Kursk")
    two = make_mention("two", published="2024-12-18T09:00:00Z", place="Kursk")
    undated = make_mention("undated", published=None, place="Kursk")
    assert ("undated",) in events_by_articles(merge_batch([one, two, undated]))
    clear = make_mention("clear", published=None, place="Kursk", quantities={"troops": 1500}, source="NIS")
    one_nis = make_mention("one", published="2024-10-18T09:00:00Z", place="Kursk", quantities={"troops": 1500},
                           source="NIS")
    assert ("clear", "one") in events_by_articles(merge_batch([one_nis, two, clear]))


def test_shared_rare_evidence_words_link_dated_articles_of_one_week(make_mention):
    text = "Lavrov arrived at Kalma airport near Wonsan for talks with Choe Son Hui"
    a = make_mention("a", published="2025-07-12T08:00:00Z", type="leader_meeting_or_visit", text=text)
    b = make_mention("b", published="2025-07-13T08:00:00Z", type="leader_meeting_or_visit",
                     text="Choe Son Hui greeted Lavrov at Kalma before the Wonsan talks")
    fillers = [make_mention(f"f{i}", published=f"2025-07-{14 + i}T08:00:00Z", type="other",
                            text=f"unrelated item number {i} about grain prices and shipping rates")
               for i in range(3)]
    assert ("a", "b") in events_by_articles(merge_batch([a, b, *fillers]))


def test_two_events_of_one_type_in_a_story_stay_apart_when_their_places_are_incompatible(make_mention):
    here = make_mention("a", type="leader_meeting_or_visit", place="Moscow", start=0)
    there = make_mention("a", index=1, type="leader_meeting_or_visit", place="Pyongyang", start=60)
    assert events_by_articles(merge_batch([here, there])) == [("a",), ("a",)]


def test_ids_and_revisions_do_not_depend_on_input_order(make_mention):
    mentions = [make_mention(f"x{i}", published=f"2024-10-{18 + i % 3}T0{i % 9}:00:00Z", place="Kursk",
                             quantities={"troops": 1500 * (1 + i % 2)}, source=["NIS", "JCS"][i % 2])
                for i in range(8)]
    merged = merge_batch(mentions)
    expected = [e.model_dump_json() for e in merged.revisions + merged.events]
    for seed in range(4):
        shuffled = mentions[:]
        random.Random(seed).shuffle(shuffled)
        again = merge_batch(shuffled)
        assert [e.model_dump_json() for e in again.revisions + again.events] == expected


def test_the_story_index_forgets_stories_past_the_horizon(make_mention):
    step = AssignStep(MergeSettings(horizon_days=5))
    state, _ = step.run("stories", None, [make_mention("old", published="2024-01-01T00:00:01Z")])
    state, _ = step.run("stories", state, [make_mention("new", published="2024-03-01T00:00:01Z", place="Moscow")])
    assert len(state.stories) == 1 and "new" in state.stories[0].clusters
    assert all(term in state.df for term in state.stories[0].terms)


def test_an_undated_article_with_most_of_a_story_s_rare_words_joins_it(make_mention):
    a = make_mention("a", published="2025-07-12T08:00:00Z", type="leader_meeting_or_visit",
                     text="Lavrov arrived at Kalma airport near Wonsan for talks with Choe Son Hui")
    undated = make_mention("u", published=None, type="leader_meeting_or_visit",
                           text="Lavrov and Choe Son Hui held talks near Wonsan after landing at Kalma airport")
    other = make_mention("o", published="2025-07-12T09:00:00Z", type="economic_cooperation",
                         text="A new ferry line will carry tourists between Vladivostok and Rason")
    assert ("a", "u") in events_by_articles(merge_batch([a, other, undated]))
    unrelated = make_mention("u2", published=None, type="leader_meeting_or_visit",
                             text="The parade in Beijing was attended by many foreign leaders and guests")
    assert ("u2",) in events_by_articles(merge_batch([a, other, unrelated]))


def test_same_day_reports_that_share_rare_words_need_no_shared_figure_or_place(make_mention):
    """Two wires on the day two sailors were detained: no figure, no place finer than a country in common."""
    words_alone = MergeSettings(text_min=1.0)  # no link by words alone: only their stand-in for a specific fact
    kw = {"type": "prisoners_captured", "actors": ("PRK", "RUS"), "place": "Russia"}
    first = make_mention("a", published="2025-11-02T01:00:00Z",
                         text="Border guards detained two sailors whose trawler drifted toward Posyet bay", **kw)

    def second(published):
        return make_mention("b", published=published,
                            text="Two sailors of a drifting trawler are held by border guards at Posyet", **kw)

    fillers = [make_mention(f"f{i}", published=f"2025-10-2{i}T08:00:00Z", type="other",
                            text=f"unrelated item number {i} about grain prices and shipping rates") for i in range(4)]
    assert ("a", "b") in events_by_articles(merge_batch([first, second("2025-11-02T09:00:00Z"), *fillers],
                                                        words_alone))
    assert ("a",) in events_by_articles(merge_batch([first, second("2025-11-07T09:00:00Z"), *fillers], words_alone))
    no_stand_in = MergeSettings(text_min=1.0, text_specific=0.0)
    assert ("a",) in events_by_articles(merge_batch([first, second("2025-11-02T09:00:00Z"), *fillers], no_stand_in))


def trawler_stories(make_mention):
    """Two dated stories of one type a day apart (a shipyard deal, a ferry timetable) and their shared fields."""
    kw = {"type": "economic_cooperation", "actors": ("RUS", "PRK")}
    story = make_mention("a", published="2025-06-19T08:00:00Z", title="Nakhodka shipyard to refit Wonsan trawlers",
                         text="Welders will rebuild the hulls over the winter", **kw)
    other = make_mention("o", published="2025-06-20T08:00:00Z", title="New ferry timetable published",
                         text="Passengers may book cabins from next month", **kw)
    return kw, story, other


def test_an_undated_article_is_placed_by_the_rare_words_of_its_title(make_mention):
    kw, story, other = trawler_stories(make_mention)

    def undated(title):
        return make_mention("u", published=None, title=title, text="The report cites a source in Seoul", **kw)

    titled = undated("First Wonsan trawlers towed to the Nakhodka shipyard")
    assert ("a", "u") in events_by_articles(merge_batch([story, other, titled]))
    assert ("u",) in events_by_articles(merge_batch([story, other, undated(None)]))


def test_an_undated_article_is_not_placed_by_a_background_fact_alone(make_mention):
    """The same place and figure, in other words: an undated piece recalling the deployment in passing."""
    story = make_mention("a", published="2025-01-10T08:00:00Z", place="Kursk", quantities={"troops": 3000},
                         text="A convoy of buses left the barracks at dawn, officials said")
    undated = make_mention("u", published=None, place="Kursk", quantities={"troops": 3000},
                           text="Farmers complained about the price of diesel this spring")
    assert events_by_articles(merge_batch([story, undated])) == [("a",), ("u",)]


def test_a_lede_that_dates_a_past_visit_and_then_says_what_happened_is_one_event(make_mention):
    kw = {"type": "leader_meeting_or_visit", "actors": ("RUS", "PRK"), "published": "2024-06-20T08:00:00Z"}
    dated = make_mention("a", event_date="2024-04-02", start=0, text="The summit was held on 2 April", **kw)
    then = make_mention("a", index=1, start=43, text="The leaders also signed a grain agreement", **kw)
    assert events_by_articles(merge_batch([dated, then])) == [("a",)]  # one event, not two


def run_in_flushes(mentions, settings=S):
    """The story fold run one article at a time (state carried, stories pruned after each), as a live job."""
    step, state, placed = AssignStep(settings), None, []
    ordered = sorted(mentions, key=step.order_key)
    for article_id in dict.fromkeys(m.article_id for m in ordered):
        state, out = step.run("stories", state, [m for m in ordered if m.article_id == article_id])
        placed.extend(out)
    return state, sorted((p.mention.mention_id, p.event_id) for p in placed)


def in_one_run(mentions, settings=S):
    step = AssignStep(settings)
    return sorted((p.mention.mention_id, p.event_id) for p in step.run("stories", None, sorted(
        mentions, key=step.order_key))[1])


def a_visit_and_later_news(make_mention, retrospective_published):
    """A visit reported on 12-13 July (its day fixed), other news after it, and a piece that dates the visit."""
    visit = {"type": "leader_meeting_or_visit", "actors": ("RUS", "PRK")}
    reports = [make_mention("v1", published="2025-07-12T08:00:00Z", event_date="2025-07-12", place="Pyongyang",
                            text="The minister landed in the capital for talks", **visit),
               make_mention("v2", published="2025-07-13T08:00:00Z", place="Pyongyang",
                            text="The minister held talks in the capital", **visit)]
    news = [make_mention(f"n{i}", published=f"2025-08-{10 + i:02d}T08:00:00Z", type="economic_cooperation",
                         text=f"A trade fair number {i} opened with grain and timber stands") for i in range(3)]
    retro = [make_mention("r", published=retrospective_published, event_date="2025-07-11", start=0,
                          text="The visit took place on 11 to 13 July", **visit),
             make_mention("r", index=1, published=retrospective_published, start=45,
                          text="The minister also toured a new seaside resort", **visit)]
    return reports + news + retro


def test_a_piece_that_dates_a_visit_two_months_back_joins_the_visit_also_once_its_story_closed(make_mention):
    mentions = a_visit_and_later_news(make_mention, "2025-09-07T08:00:00Z")
    assert ("r", "v1", "v2") in events_by_articles(merge_batch(mentions))  # both lede mentions, no visit of its own
    state, placed = run_in_flushes(mentions)
    assert placed == in_one_run(mentions)
    assert "leader_meeting_or_visit" in {view.type for _, view in state.past}  # closed, its visit kept
    too_late = a_visit_and_later_news(make_mention, "2025-12-20T08:00:00Z")  # > reach_days after the last report
    assert ("r",) in events_by_articles(merge_batch(too_late))
    assert run_in_flushes(too_late)[1] == in_one_run(too_late)


def test_an_article_without_a_publication_time_is_taken_in_at_its_fetch_time(make_mention):
    """It cannot have appeared after it was fetched, so it finds only the stories begun by then."""
    kw, story, other = trawler_stories(make_mention)

    def undated(fetched_at):
        return make_mention("u", published=None, fetched_at=fetched_at, title="Wonsan trawlers towed to Nakhodka",
                            text="The report cites a source in Seoul", **kw)

    assert ("a", "u") in events_by_articles(merge_batch([story, other, undated(None)]))
    assert ("a", "u") in events_by_articles(merge_batch([story, other, undated("2025-06-21T00:00:00Z")]))
    early = merge_batch([story, other, undated("2025-06-18T00:00:00Z")])
    assert ("u",) in events_by_articles(early)
    assert [e.first_seen for e in early.events if e.mentions[0].article_id == "u"] == [None]  # no publication time


def test_mentions_of_an_article_without_a_publication_time_carry_its_fetch_time(make_event):
    def mentions(published):
        raw = RawArticle(id="x", title="t", text="body", published=published, fetched_at="2025-06-21T10:00:00Z")
        return mentions_of(EnrichedArticle(article=raw, relevant=True, relevance_score=1.0, events=[make_event()],
                                           ontology_version="t"))

    assert [m.fetched_at.isoformat() for m in mentions(None)] == ["2025-06-21T10:00:00+00:00"]
    assert [m.fetched_at for m in mentions("2025-06-20T08:00:00Z")] == [None]  # its publication time places it


def test_a_dated_article_joins_no_story_past_its_horizon_whether_or_not_it_was_pruned(make_mention):
    """A story whose undated (fetched) piece opened an event with no report time: 25 days later a dated report
    fits that event, but the story closed 21 days after its first report: in one run as in many (there the
    story was pruned when an article of the day before moved the clock)."""
    kw = {"place": "Kursk", "actors": ("PRK", "RUS")}
    first = make_mention("a", published="2024-11-01T08:00:00Z", quantities={"troops": 1500}, source="NIS",
                         title="Seoul says troops reached Kursk", text="Troops reached Kursk, Seoul said", **kw)
    fetched = make_mention("u", published=None, fetched_at="2024-11-03T08:00:00Z", type="casualties",
                           quantities={"killed": 40}, source="GUR", title="Seoul says troops reached Kursk",
                           text="Forty soldiers were killed near Kursk, GUR said", **kw)
    filler = make_mention("f", published="2024-11-25T08:00:00Z", type="other", actors=("USA",),
                          text="An unrelated item about grain prices and shipping rates")
    late = make_mention("c", published="2024-11-26T08:00:00Z", type="casualties", quantities={"killed": 40},
                        source="GUR", text="Forty soldiers were killed near Kursk, GUR said", **kw)
    mentions = [first, fetched, filler, late]
    step = AssignStep()
    stories = {p.mention.article_id: p.story_id for p in step.run("stories", None, sorted(mentions, key=step.order_key))[1]}
    assert run_in_flushes(mentions)[1] == in_one_run(mentions)
    assert stories["u"] == stories["a"] != stories["c"]
    assert ("c", "u") in events_by_articles(merge_batch(mentions, MergeSettings(horizon_days=60)))  # the fit is there


def shipments(make_mention, later_figure, later_published="2023-11-29T08:00:00Z"):
    """A port's shipments reported on 16-17 October with a count, other news, and a wire report weeks later
    whose lede gives the count again (`later_figure`) and whose body repeats it with the port."""
    ship = {"type": "weapons_transfer", "actors": ("PRK", "RUS")}
    reports = [make_mention("s1", published="2023-10-16T08:00:00Z", quantities={"containers": (None, 1000)},
                            text="Officials said as many as 1,000 containers went by ship", **ship),
               make_mention("s2", published="2023-10-17T08:00:00Z", place="Rajin", quantities={"containers": 1000},
                            text="Satellite images show ships at the port loading 1,000 containers", **ship)]
    news = [make_mention(f"n{i}", published=f"2023-11-{10 + i:02d}T08:00:00Z", type="economic_cooperation",
                         text=f"A trade fair number {i} opened with grain and timber stands") for i in range(3)]
    wire = [make_mention("w", published=later_published, quantities={"containers": later_figure}, start=0,
                         text="The North has shipped about 2,000 containers of arms", **ship),
            make_mention("w", index=1, published=later_published, quantities={"containers": later_figure},
                         start=400, place="Dunai", text="Ships carried the containers from the port to Dunai",
                         **ship)]
    return reports + news + wire


def test_a_later_larger_count_of_a_transfer_joins_it_with_the_article_s_other_mentions(make_mention):
    mentions = shipments(make_mention, 2000)
    events = events_by_articles(merge_batch(mentions))
    assert ("s1", "s2", "w") in events and ("w",) not in events  # lede and body: no event of its own
    assert run_in_flushes(mentions)[1] == in_one_run(mentions)
    for not_more in (1000, 500):  # the old figure recalled, or a smaller one: the windows decide
        assert ("w",) in events_by_articles(merge_batch(shipments(make_mention, not_more)))
    too_late = shipments(make_mention, 2000, "2024-03-01T08:00:00Z")  # > reach_days after the last report
    assert ("w",) in events_by_articles(merge_batch(too_late))
