"""Typed payloads of every topic: raw article → enriched article, event mention, canonical event, alert, dead letter.

Each model carries ``schema_version``; all datetimes are timezone-aware UTC (naive
input is read as UTC, never as local time). Models are frozen: a stage returns new
records instead of mutating its input.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1

EventType = Literal[
    "troop_deployment",
    "casualties",
    "prisoners_captured",
    "weapons_transfer",
    "technology_transfer",
    "treaty_or_agreement",
    "official_confirmation",
    "official_denial",
    "leader_meeting_or_visit",
    "economic_cooperation",
    "military_exercise_or_training",
    "sanctions_or_condemnation",
    "other",
]
Modality = Literal["asserted", "claimed", "confirmed", "denied", "expected", "hypothetical_or_concern"]
ActorRole = Literal["agent", "recipient", "target", "location_of"]
Precision = Literal["exact", "city", "region", "country"]
AlertKind = Literal["new", "update", "confirmation", "denial"]
Severity = Literal["low", "medium", "high"]

_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}){0,2}$")


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_timestamp(value: Any) -> datetime | None:
    """Read an ISO date or date-time ('2024-10-18', '2024-10', '2024-10-18T09:00:00+09:00') as UTC.

    A bare year or month is read as its first day; naive times are UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _to_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO date or date-time string, got {type(value).__name__}")
    text = value.strip()
    if _PARTIAL_DATE.match(text):
        parts = [int(p) for p in text.split("-")] + [1, 1]
        return datetime(parts[0], parts[1], parts[2], tzinfo=timezone.utc)
    try:
        return _to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"not an ISO date or date-time: {text!r}") from None


UtcDatetime = Annotated[datetime, AfterValidator(_to_utc)]


class Record(BaseModel):
    """Base of every payload: frozen, unknown fields ignored (forward compatible readers)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = SCHEMA_VERSION


class RawArticle(Record):
    """An article as a connector saw it: canonical id, cleaned text, UTC times."""

    id: str = Field(min_length=1, description="canonical article id (canonical URL, GUID or content hash)")
    url: str | None = None
    title: str = ""
    text: str = ""
    published: UtcDatetime | None = Field(None, description="publication time, UTC")
    published_inferred: bool = Field(False, description="true when `published` is the fetch time")
    language: str | None = None
    outlet: str | None = None
    feed_id: str | None = None
    fetched_at: UtcDatetime | None = None
    guid: str | None = None
    origin: str | None = Field(None, description="where the record came from: file, feed url")
    source_position: str | None = Field(None, description="where the pipeline read it: topic[partition]@offset")

    @field_validator("title", "text", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("published", "fetched_at", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> datetime | None:
        return parse_timestamp(value)


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    role: ActorRole = "agent"


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    precision: Precision = "city"


class Quantity(BaseModel):
    model_config = ConfigDict(frozen=True)

    low: int | None = None
    high: int | None = None
    approx: bool = False
    vague: bool = False


class Evidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class ExtractedEvent(BaseModel):
    """One event as a single article states it."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    actors: list[Actor] = []
    location: Location | None = None
    quantities: dict[str, Quantity] = {}
    event_date: str | None = Field(None, description="ISO date (YYYY, YYYY-MM or YYYY-MM-DD) the text fixes")
    modality: Modality = "asserted"
    source_of_claim: str | None = None
    evidence: Evidence | None = None
    confidence: float = Field(0.5, ge=0.0, le=1.0)


class Extraction(Record):
    """What the extractor returns for one article (one line of `nkru extract`)."""

    id: str
    relevant: bool
    relevance_score: float = Field(ge=0.0, le=1.0)
    events: list[ExtractedEvent] = []
    ontology_version: str


class EnrichedArticle(Record):
    """A raw article with its extraction and its place among duplicates."""

    article: RawArticle
    relevant: bool
    relevance_score: float
    events: list[ExtractedEvent] = []
    duplicate_of: str | None = Field(None, description="id of the first article of its near-duplicate cluster")
    cluster_id: str | None = None
    ontology_version: str


class EventMention(Record):
    """One extracted event tied to the article that states it."""

    mention_id: str
    article_id: str
    url: str | None = None
    outlet: str | None = None
    published: UtcDatetime | None = None
    fetched_at: UtcDatetime | None = Field(None, description="set when `published` is unknown: when its article was "
                                                             "fetched, the latest it can have appeared")
    cluster_id: str | None = Field(None, description="near-duplicate cluster of the article (syndication)")
    duplicate_of: str | None = Field(None, description="set when the article is a reprint of another")
    source_position: str | None = Field(None, description="the article's position on the raw topic, if read there")
    title: str | None = Field(None, description="the article's title (story matching uses its rare words)")
    event: ExtractedEvent
    ontology_version: str


class Claim(BaseModel):
    """Who said which figure when: one point of a claims timeline."""

    model_config = ConfigDict(frozen=True)

    source: str | None
    quantity: str
    low: int | None
    high: int | None
    at: UtcDatetime | None
    article_id: str
    modality: Modality


class MentionRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    article_id: str
    url: str | None = None
    outlet: str | None = None
    published: UtcDatetime | None = None
    modality: Modality
    source_of_claim: str | None = None
    quantities: dict[str, Quantity] = {}
    evidence: Evidence | None = None
    cluster_id: str | None = None


class CanonicalEvent(Record):
    """One real-world event merged from its mentions, with its history."""

    event_id: str
    type: EventType
    revision: int = Field(ge=1)
    first_seen: UtcDatetime | None
    last_seen: UtcDatetime | None
    actors: list[Actor] = []
    location: Location | None = None
    quantities: dict[str, Quantity] = {}
    event_date: str | None = None
    modality: Modality
    mentions: list[MentionRef] = []
    mentions_from: int = Field(1, ge=1, description=(
        "the revision that added mentions[0]: 1 in an event's latest state (the canonical topic, events.jsonl: "
        "every mention and the claims timeline), the revision itself in a per-mention revision (only the "
        "mention it added, no claims timeline)"))
    independent_sources: int = 0
    claims: list[Claim] = []
    ontology_version: str

    @model_validator(mode="after")
    def _mentions_end_at_revision(self) -> CanonicalEvent:
        if self.mentions and self.mentions_from + len(self.mentions) - 1 != self.revision:
            raise ValueError(f"mentions {self.mentions_from}..{self.mentions_from + len(self.mentions) - 1} "
                             f"do not end at revision {self.revision}")
        return self


class Alert(Record):
    """A notification that something new happened or was learned about an event."""

    alert_id: str
    event_id: str
    revision: int
    kind: AlertKind
    severity: Severity
    event_type: EventType
    summary: str
    evidence: list[Evidence] = []
    links: list[str] = []
    event_time: UtcDatetime | None = None
    actors: list[str] = []
    rule_id: str | None = None
    ontology_version: str


class DeadLetter(Record):
    """Input a stage could not handle, kept with enough context to replay or inspect it."""

    stage: str
    reason: str
    error: str | None = None
    payload: str | None = Field(None, description="the original payload (truncated to 64 KiB) or null")
    payload_ref: str | None = Field(None, description="where the full original lives (file path, url, topic@offset)")
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    versions: dict[str, str] = {}
