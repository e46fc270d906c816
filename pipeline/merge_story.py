"""Pure story assignment (no Beam): an article's mentions → one story, and each mention → an event of that story.

Why stories: an article reports one story and recalls others in passing ("…after North Korea sent 10,000
troops…" in a piece about a ministerial visit). If each mention were matched on its own, such background
references would tie every story of the season into one event. So the decision is taken per article, once:

1. `gather`: the article's mentions in text order; its lede is the first one and any starting within
   `lede_slack` characters of it (what the article is about); the terms of its title and evidence
   (`pipeline.merge_text`).
2. `choose_story`: a copy (same syndication cluster) goes to its original's story. Otherwise:
   - a dated article joins the story with the best link, a link being the `fit` of one of its mentions to one
     of the story's events of the same type. A link needs a lede on at least one side (with a lede on only one
     side, `background_extra` more) and a specific fact (place, figure, source, exact date); between reports
     at most `text_specific_days` apart, shared rare words stand in for it (`text_specific` per unit of
     similarity): same-day reports of one news rarely share a figure, but share names. Evidence-term
     similarity alone also links, from `text_min`, articles less than `text_window_days` apart;
   - an undated article has no time to compare, so it is placed by its content: it joins the story whose
     closest article it resembles most (idf-weighted cosine of the terms, from `text_min_undated`; specific
     facts shared with one of the story's events, in any part of either text, add `undated_corroboration`
     each), if that story beats the runner-up by `undated_margin`. Event fits alone do not place it: the
     background facts of an undated piece ("14,000 soldiers in Kursk") fit many stories.
   No story → a new one.
   A dated article joins no story more than `horizon_days` after the story's first report (then the story is
   closed and pruned). An article without a publication time but with a fetch time is taken in at its fetch
   time (`article_order`: it cannot have appeared later, and a live job meets it then), so it finds only the
   stories begun by then; it is still placed as an undated one.
3. `place`: inside the story each mention joins the best-fitting event of its type, or opens one (two events
   of one type in one story are kept apart by the vetoes of `fit`: other place, other actors, other time;
   but not by two places one of which is a whole country: "sent to Russia" and "fighting in Ukraine"; and a
   lede mention without a date of its own may join the event its article's lede dated). The one way out of
   the story is a dated reference (`merge_match.dated_reference`): a lede mention whose text fixes the day of
   a lede event of another story, open or closed, reported too long ago for the windows (up to `reach_days`
   before: "The visit took place on 11–13 July", two months later) joins that event. So does a running total
   (`merge_match.running_total`): a lede mention whose count (containers shipped, troops sent, casualties)
   has grown past the lede event's ("nearly 2,000 containers" six weeks after "as many as 1,000"); the
   article's other mentions of that type follow its lede there, so the report is an update, not news. Shared
   words and facts alone never reach past the windows: the reports of one long-running situation (Kursk, the
   Rajin port) share places, figures and names for months, while their news are separate events.

Only `EventView`s and term hashes are kept (sets of actors, places, figures, clusters, terms: no texts), so
the state of this fold stays small: open stories whole, and of closed ones the events a reference may still
join (`StoryIndex.past`); mentions themselves go on to `pipeline.merge_build`, keyed by event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.merge_match import (
    DAY,
    EventView,
    MergeSettings,
    dated_reference,
    fit,
    fixes_a_day,
    gap,
    past_window,
    precise,
    referable,
    report_interval,
    running_total,
)
from pipeline.merge_text import article_terms, closest, coverage
from pipeline.stages import stable_id
from schemas.records import EventMention

NO_TIME = 2**62
STORY_ARTICLES = 32  # an undated article is compared with each of a story's latest articles, up to this many


def article_order(mention: EventMention) -> tuple[int, str]:
    """(article time, article id): the time is its publication, else its fetch time (the latest it can have
    appeared, when a live job would meet it: it then finds only the stories begun by then), else last."""
    report = report_interval(mention.published)
    if report is not None:
        return report[0], mention.article_id
    if mention.fetched_at is not None:
        return int(mention.fetched_at.timestamp() * 1_000_000), mention.article_id
    return NO_TIME, mention.article_id


def text_position(mention: EventMention) -> int:
    return mention.event.evidence.start if mention.event.evidence is not None else 0


@dataclass(frozen=True)
class ArticleMentions:
    """All mentions of one article, in text order, with its lede and the terms of its evidence."""

    article_id: str
    order: tuple[int, str]
    mentions: tuple[EventMention, ...]
    ledes: frozenset[str]
    terms: frozenset[int] = frozenset()

    @property
    def dated(self) -> bool:
        """Published at a known time (a fetch time only bounds it)."""
        return self.mentions[0].published is not None

    @property
    def cluster_ids(self) -> set[str]:
        first = self.mentions[0]
        return {c for c in (self.article_id, first.cluster_id, first.duplicate_of) if c}


@dataclass(frozen=True)
class Placed:
    """One mention placed in an event (what `MergeEvents` keys by event id)."""

    event_id: str
    story_id: str
    order: tuple[tuple[int, str], int]  # (article order, position in the article)
    mention: EventMention


def gather(mentions: list[EventMention], settings: MergeSettings) -> ArticleMentions:
    ordered = sorted(mentions, key=lambda m: (text_position(m), m.mention_id))
    first = text_position(ordered[0])
    ledes = frozenset(m.mention_id for m in ordered if text_position(m) <= first + settings.lede_slack)
    return ArticleMentions(ordered[0].article_id, article_order(ordered[0]), tuple(ordered), ledes,
                           article_terms(ordered))


@dataclass
class Story:
    story_id: str
    first_report: int | None = None  # its first precisely dated article (micros)
    clusters: set[str] = field(default_factory=set)
    events: list[EventView] = field(default_factory=list)
    terms: set[int] = field(default_factory=set)  # of all its articles
    articles: list[frozenset[int]] = field(default_factory=list)  # the terms of its latest `STORY_ARTICLES`


@dataclass
class StoryIndex:
    stories: list[Story] = field(default_factory=list)
    clock: int | None = None  # the newest article time seen
    df: dict[int, int] = field(default_factory=dict)  # in how many of the stories each term occurs
    past: list[tuple[str, EventView]] = field(default_factory=list)  # (story id, event) of closed stories

    def referable(self, story: Story, settings: MergeSettings) -> list[tuple[str, EventView]]:
        """The events outside `story` a reference (dated, or a running total) may join now
        (`merge_match.referable`), of open and closed stories alike, so when a story closes changes nothing."""
        found = [(other.story_id, view) for other in self.stories if other is not story for view in other.events]
        return [(story_id, view) for story_id, view in found + self.past if referable(view, self.clock, settings)]

    def add_terms(self, story: Story, terms: frozenset[int]) -> None:
        for term in terms - story.terms:
            self.df[term] = self.df.get(term, 0) + 1
        story.terms |= terms
        if terms:
            story.articles = [*story.articles[-(STORY_ARTICLES - 1):], terms]

    def forget(self, story: Story) -> None:
        for term in story.terms:
            left = self.df.get(term, 0) - 1
            if left > 0:
                self.df[term] = left
            else:
                self.df.pop(term, None)

    def text_similarity(self, article: ArticleMentions, story: Story) -> float:
        """Share of the article's terms, weighted by rarity (idf over the stories), the story has."""
        return coverage(article.terms, story.terms, self.df, len(self.stories) + 1)

    def resemblance(self, article: ArticleMentions, story: Story) -> float:
        """Cosine of the article's terms with those of the story's closest article."""
        return closest(article.terms, story.articles, self.df, len(self.stories) + 1)


def link(article: ArticleMentions, story: Story, settings: MergeSettings, text: float = 0.0) -> float | None:
    """The best link between the dated article and the story (see the module docstring), or None; `text` is
    their evidence-term similarity."""
    best, report = None, report_interval(article.mentions[0].published)
    for mention in article.mentions:
        lede = mention.mention_id in article.ledes
        for view in story.events:
            if view.type != mention.event.type or not (lede or view.lede):
                continue
            got = fit(mention, view, settings)
            if got is None:
                continue
            near = report is not None and view.anchor is not None \
                and gap(report, view.anchor) <= settings.text_specific_days * DAY
            if got.specific + (settings.text_specific * text if near else 0.0) < settings.min_specific:
                continue
            value = got.total - (0.0 if lede and view.lede else settings.background_extra)
            if value >= (settings.min_score if got.dated else settings.min_score_undated):
                best = value if best is None else max(best, value)
    return best


def shared_facts(article: ArticleMentions, story: Story, settings: MergeSettings) -> float:
    """The most specific facts (place, figure, source, exact date) a mention of the article shares with an event
    of the story of its type, lede or not; 0 below `min_specific`."""
    found = [got.specific for mention in article.mentions for view in story.events
             if view.type == mention.event.type and (got := fit(mention, view, settings)) is not None]
    best = max(found, default=0.0)
    return best if best >= settings.min_specific else 0.0


def text_link(article: ArticleMentions, story: Story, index: StoryIndex, settings: MergeSettings) -> float:
    """Evidence-term similarity between a dated article and a story less than a text window apart (any story
    without a precise date)."""
    report = report_interval(article.mentions[0].published)
    if report is None or story.first_report is None:
        return index.text_similarity(article, story)
    if not precise(report):
        return 0.0
    if abs(report[0] - story.first_report) > settings.text_window_days * DAY:
        return 0.0
    return index.text_similarity(article, story)


def choose_story(article: ArticleMentions, index: StoryIndex, settings: MergeSettings) -> int | None:
    ids = article.cluster_ids
    for position, story in enumerate(index.stories):
        if ids & story.clusters:
            return position
    scored = []
    for position, story in enumerate(index.stories):
        if article.dated and closed(story, max(index.clock or 0, article.order[0]), settings):
            continue  # past its horizon, pruned at the end of the last flush or not: flushes change nothing
        score = (dated_score if article.dated else undated_score)(article, story, index, settings)
        if score is not None:
            scored.append((score, -position))
    if not scored:
        return None
    scored.sort(reverse=True)
    if not article.dated and len(scored) > 1 and scored[0][0] - scored[1][0] < settings.undated_margin:
        return None
    return -scored[0][1]


def closed(story: Story, clock: int | None, settings: MergeSettings) -> bool:
    """The story's first report is more than `horizon_days` before `clock`: it takes no more dated articles."""
    return story.first_report is not None and clock is not None \
        and clock - story.first_report > settings.horizon_days * DAY


def dated_score(article: ArticleMentions, story: Story, index: StoryIndex, settings: MergeSettings) -> float | None:
    text = text_link(article, story, index, settings)
    event_link = link(article, story, settings, text)
    if event_link is None and text < settings.text_min:
        return None
    return (event_link or 0.0) + settings.text_weight * text


def undated_score(article: ArticleMentions, story: Story, index: StoryIndex, settings: MergeSettings) -> float | None:
    text = index.resemblance(article, story)
    if text < settings.text_min_undated:
        return None
    return text + settings.undated_corroboration * shared_facts(article, story, settings)


def place(article: ArticleMentions, story: Story, settings: MergeSettings,
          other_events: list[tuple[str, EventView]] = ()) -> list[Placed]:
    """Each mention into the best-fitting event of its type in `story`, or a new one there. A lede mention may
    instead join one of `other_events` (of other stories, open or closed) when it is a dated reference or a
    running total to it and its article appeared past the event's window; the article's other mentions may
    follow it there (`dated_by_lede`: its lede places them in time)."""
    placed, lede_events, joined_elsewhere = [], set(), {}
    for position, mention in enumerate(article.mentions):
        best, top, home = None, float("-inf"), story.story_id
        lede = mention.mention_id in article.ledes
        candidates = [(story.story_id, view) for view in story.events] + list(joined_elsewhere.values())
        running = set()
        if lede:
            for story_id, view in other_events:
                if view.event_id in joined_elsewhere or not past_window(mention, view, settings):
                    continue
                if dated_reference(mention, view, settings):
                    candidates.append((story_id, view))
                elif running_total(mention, view, settings):
                    candidates.append((story_id, view))
                    running.add(view.event_id)
        for story_id, view in candidates:
            if view.type == mention.event.type and (got := fit(
                    mention, view, settings, in_story=story_id == story.story_id,
                    dated_by_lede=view.event_id in lede_events and (lede or view.event_id in joined_elsewhere),
                    running=view.event_id in running)) is not None and got.total > top:
                best, top, home = view, got.total, story_id
        if best is None:
            best = EventView(event_id=stable_id("event", mention.event.type, mention.mention_id), type=mention.event.type)
            story.events.append(best)
        best.take_in(mention, lede, settings)
        if lede:
            lede_events.add(best.event_id)
            if home != story.story_id:
                joined_elsewhere[best.event_id] = (home, best)
        placed.append(Placed(best.event_id, home, (article.order, position), mention))
    return placed


def counts_up(mention: EventMention, settings: MergeSettings) -> bool:
    """The mention states a figure of a type whose counts accumulate: it may report a running total."""
    return mention.event.type in settings.running_total_types and any(
        not q.vague for q in mention.event.quantities.values())


def by_article(mentions: list[EventMention], settings: MergeSettings) -> list[ArticleMentions]:
    """Mentions (sorted by `AssignStep.order_key`) → one `ArticleMentions` per article, in article order."""
    groups: dict[str, list[EventMention]] = {}
    for mention in mentions:
        groups.setdefault(mention.article_id, []).append(mention)
    return sorted((gather(group, settings) for group in groups.values()), key=lambda a: a.order)


@dataclass(frozen=True)
class AssignStep:
    """One fold over all mentions (a single key): story, then event, for every article's mentions.

    An article's mentions share its element timestamp, so one flush holds them all and they are gathered
    here (`by_article`), not in a stage of their own.
    """

    settings: MergeSettings = field(default_factory=MergeSettings)
    max_stories: int = 5_000
    max_past: int = 20_000  # events of closed stories kept for references
    namespace: str = "merge"

    def order_key(self, mention: EventMention):
        return article_order(mention), mention.mention_id

    def run(self, key: str, state: StoryIndex | None, values: list[EventMention]):
        index = state or StoryIndex()
        out = []
        for article in by_article(values, self.settings):
            chosen = choose_story(article, index, self.settings)
            if chosen is None:
                index.stories.append(Story(story_id=stable_id("story", article.article_id)))
                chosen = len(index.stories) - 1
            story = index.stories[chosen]
            story.clusters |= article.cluster_ids
            index.add_terms(story, article.terms)
            report = report_interval(article.mentions[0].published)
            if precise(report):
                story.first_report = report[0] if story.first_report is None else min(story.first_report, report[0])
            if article.dated:
                index.clock = article.order[0] if index.clock is None else max(index.clock, article.order[0])
            reference = any(m.mention_id in article.ledes and (fixes_a_day(m) or counts_up(m, self.settings))
                            for m in article.mentions)
            others = index.referable(story, self.settings) if reference else []  # only such a lede can use them
            out.extend(place(article, story, self.settings, others))
        index.stories = self._prune(index)
        return index, out

    def _prune(self, index: StoryIndex) -> list[Story]:
        """Stories past the horizon (article time) take no more articles; the oldest go past `max_stories`. Of a
        closed story only the events a reference may still join are kept (`past`), while in reach."""
        kept = [s for s in index.stories if not closed(s, index.clock, self.settings)]
        kept = kept[-self.max_stories:]
        kept_ids = {id(s) for s in kept}
        gone = []
        for story in index.stories:
            if id(story) not in kept_ids:
                index.forget(story)
                gone.extend((story.story_id, view) for view in story.events)
        index.past = [(story_id, view) for story_id, view in index.past + gone
                      if referable(view, index.clock, self.settings)][-self.max_past:]
        return kept
