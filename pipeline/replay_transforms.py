"""Replay's own transforms, before the shared graph: read units → RawArticle (+ dead letters) → each article id
once, its earliest snapshot → articles whose event time is outside --since/--until counted and left out.

A feed archive repeats most items across consecutive snapshots; the live poller emits an id only the first
time it sees it, and so does a replay: repeats are dropped within a read unit while reading and across units
by a combine keyed by id, which keeps the smallest `snapshot_rank` (earliest fetch, then origin, then content)
whatever the arrival order. Dead letters of the sources go to DEAD.
"""

from __future__ import annotations

from datetime import datetime

import apache_beam as beam
from apache_beam import coders, pvalue
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import MIN_TIMESTAMP

from pipeline.replay_progress import counts_file
from pipeline.sources import ReadUnit, earlier
from pipeline.sources_read import read_unit
from pipeline.stages import DEAD
from schemas.records import RawArticle


class RawArticleCoder(coders.Coder):
    """RawArticle ↔ its JSON (pydantic-core both ways); about twice as fast as Beam's pickle fallback."""

    def encode(self, value: RawArticle) -> bytes:
        return value.__pydantic_serializer__.to_json(value)

    def decode(self, encoded: bytes) -> RawArticle:
        return RawArticle.model_validate_json(encoded)

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self):
        return RawArticle


coders.registry.register_coder(RawArticle, RawArticleCoder)


class BeamCounts:
    """`pipeline.sources_read.Counts` onto Beam counters of one namespace (reported while the job runs)."""

    def __init__(self, namespace: str):
        self.namespace = namespace
        self._counters: dict = {}
        self.file = counts_file()  # the progress of a runner without live metrics (the direct runner)

    def add(self, name: str, n: int = 1) -> None:
        if not n:
            return
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Metrics.counter(self.namespace, name)
        counter.inc(n)
        if self.file is not None:
            self.file.add(f"{self.namespace}.{name}", n)

    def flush(self) -> None:
        if self.file is not None:
            self.file.flush()


class ReadUnitFn(beam.DoFn):
    """ReadUnit → RawArticle (main) and DeadLetter (DEAD); every count goes to the `source` namespace."""

    def setup(self):
        self.counts = BeamCounts("source")

    def process(self, unit: ReadUnit):
        for record in read_unit(unit, self.counts):
            if isinstance(record, RawArticle):
                yield record
            else:
                yield pvalue.TaggedOutput(DEAD, record)
        self.counts.flush()


class ReadArchive(beam.PTransform):
    """Read units → {articles: RawArticle, DEAD: DeadLetter}."""

    def __init__(self, units: list[ReadUnit]):
        super().__init__()
        self.units = units

    def expand(self, pbegin):
        units = self.units
        return (
            pbegin
            | "Start" >> beam.Impulse()
            | "Units" >> beam.FlatMap(lambda _: units)
            | "Spread" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(ReadUnitFn()).with_outputs(DEAD, main="articles")
        )


class EarliestSnapshotFn(beam.CombineFn):
    """RawArticle records of one id → the one a replay keeps (`pipeline.sources.earlier`)."""

    def create_accumulator(self):
        return None

    def add_input(self, best, article):
        return article if best is None else earlier(best, article)

    def merge_accumulators(self, accumulators):
        best = None
        for acc in accumulators:
            if acc is not None:
                best = acc if best is None else earlier(best, acc)
        return best

    def extract_output(self, best):
        return best

    def get_accumulator_coder(self):
        return coders.NullableCoder(RawArticleCoder())


class _KeepInRangeFn(beam.DoFn):
    """(id, article) → the article when its event time is in [since, until); counted either way.

    Every article leaves with the minimum timestamp, as bounded input has: the keyed collapse stamped it at
    the end of the global window, and the graph's ordered folds order by (timestamp, article time, id).
    """

    def __init__(self, since: datetime | None, until: datetime | None):
        self.since, self.until = since, until
        self.unique = Metrics.counter("replay", "unique_articles")
        self.outside = Metrics.counter("replay", "outside_time_range")
        self.kept = Metrics.counter("replay", "into_graph")

    def process(self, keyed):
        article = keyed[1]
        self.unique.inc()
        if not in_range(article, self.since, self.until):
            self.outside.inc()
            return
        self.kept.inc()
        yield TimestampedValue(article, MIN_TIMESTAMP)


def in_range(article: RawArticle, since: datetime | None, until: datetime | None) -> bool:
    """Whether the article's event time (`published`) is in [since, until); without a bound, always."""
    if since is None and until is None:
        return True
    when = article.published
    if when is None:
        return False
    return (since is None or when >= since) and (until is None or when < until)


class CollapseAndFilter(beam.PTransform):
    """RawArticle (with repeats) → each id once (earliest snapshot), within the event-time range."""

    def __init__(self, since: datetime | None = None, until: datetime | None = None):
        super().__init__()
        self.since, self.until = since, until

    def expand(self, articles):
        return (
            articles
            | "KeyById" >> beam.Map(lambda a: (a.id, a)).with_output_types(tuple[str, RawArticle])
            | "EarliestSnapshot" >> beam.CombinePerKey(EarliestSnapshotFn())
            | "KeepInRange" >> beam.ParDo(_KeepInRangeFn(self.since, self.until)).with_output_types(RawArticle)
        )
