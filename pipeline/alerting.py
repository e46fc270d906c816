"""Alerting: CanonicalEvent revisions → Alert, by rules kept as data (`alert_rules.yaml`). Nothing goes to dead
letters (a revision either alerts or not).

`evaluate(facts, event, rules)` is pure: it compares revision r with what revisions 1..r-1 made known (`Facts`:
announced?, places, figures, weapons, confirmed?, denied?) and returns the new facts and at most one alert.
`RaiseAlerts` folds each event's revisions in revision order (`OrderedFold`; events folded inside hash
shards, `ShardedStep`), so each (event_id, revision) is judged once, against the same facts, whatever the
arrival order; `alert_id` is derived from (event_id, revision, kind). The facts of an event are forgotten
100 days of article time after its latest report, later than the merge stage stops adding to the event.
Then `SettleStep` (one key, article-time order) makes each real event announce once: a `new` whose event is the
same news as one announced under another event id (`same_news`: merging left one story split) is raised as
an `update` instead (`new_event.repeat_as_update`); its state is the views of announced events, bounded by
`UNDATED_REACH_DAYS` of article time and a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import apache_beam as beam
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.alerting_settle import (  # noqa: F401 - re-exported for callers of this module
    MOVING_TYPES,
    NO_TIME,
    SETTLE_KEY,
    UNDATED_REACH_DAYS,
    NewsIndex,
    NewsView,
    Pending,
    SettleStep,
    as_repeat,
    news_view,
    same_news,
)
from pipeline.merge_match import (
    DAY,
    date_interval,
    midpoint,
    quantity_family,
)
from pipeline.merge_order import DAY_MICROS, DEFAULT_TICK_MICROS, OrderedFold
from pipeline.shards import ShardedStep, shard_of
from pipeline.stages import stable_id
from schemas.records import (
    Alert,
    AlertKind,
    CanonicalEvent,
    EventType,
    Evidence,
    MentionRef,
    Modality,
    Severity,
    parse_timestamp,
)

DEFAULT_PATH = Path(__file__).with_name("alert_rules.yaml")
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}
FACTS_HORIZON_DAYS = 100  # longer than an event can take mentions (a dated reference, up to 90 days + 1)
KIND_RANK = {"update": 0, "confirmation": 1, "denial": 2, "new": 3}
Trigger = Literal["first_confirmation", "first_denial", "figure_change", "new_place", "new_weapon"]
TRIGGER_KIND: dict[str, AlertKind] = {"first_confirmation": "confirmation", "first_denial": "denial"}


class RulesError(ValueError):
    """The alert rules file is missing, unparsable or invalid."""


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NewEventRule(_Spec):
    id: str
    types: list[EventType] = Field(min_length=1)
    modalities: list[Modality] = Field(min_length=1)
    max_evidence_start: int | None = Field(None, ge=0)
    max_age_days: int | None = Field(None, ge=0)
    severity: Severity
    severity_by_type: dict[EventType, Severity] = {}
    kind_by_type: dict[EventType, AlertKind] = {}
    repeat_as_update: bool = False  # a `new` for an event already announced under another id becomes an update


class UpdateRule(_Spec):
    id: str
    trigger: Trigger
    severity: Severity
    severity_by_type: dict[EventType, Severity] = {}
    ratio: float | None = Field(None, gt=1.0)
    min_value: int = Field(0, ge=0)  # figures below it (2 brigades, 3 ships) are too small to call a change


class Route(_Spec):
    topic: str
    min_severity: Severity


class AlertRules(_Spec):
    version: str
    new_event: NewEventRule
    updates: list[UpdateRule] = []
    weapon_quantities: list[str] = []
    routes: list[Route] = Field(min_length=1)
    max_links: int = Field(5, ge=1)
    max_evidence: int = Field(3, ge=1)

    def update(self, trigger: str) -> UpdateRule | None:
        return next((rule for rule in self.updates if rule.trigger == trigger), None)


def load_rules(path: Path | None = None) -> AlertRules:
    """The alert rules at `path` (default: the bundled `alert_rules.yaml`), validated."""
    path = path or DEFAULT_PATH
    try:
        return AlertRules.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise RulesError(f"alert rules {path}: {exc}") from exc


def routes_for(alert: Alert, rules: AlertRules) -> list[str]:
    """The topics an alert goes to: every route whose minimum severity it reaches."""
    return [r.topic for r in rules.routes if SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[r.min_severity]]


@dataclass
class Facts:
    """What the revisions of one event seen so far made known."""

    revision: int = 0
    last_seen: int | None = None  # the event's latest article time (micros): its clock for clean-up
    announced: bool = False
    places: set[str] = field(default_factory=set)
    figures: dict[str, list[float]] = field(default_factory=dict)
    weapons: set[str] = field(default_factory=set)
    confirmed: bool = False
    denied: bool = False
    links: list[str] = field(default_factory=list)  # the latest distinct URLs, newest first (`max_links`)
    evidence: list[Evidence] = field(default_factory=list)  # the latest evidence, newest first (`max_evidence`)

    def copy(self) -> Facts:
        return replace(self, places=set(self.places), figures={k: list(v) for k, v in self.figures.items()},
                       weapons=set(self.weapons), links=list(self.links), evidence=list(self.evidence))


@dataclass(frozen=True)
class Fired:
    rule_id: str
    kind: AlertKind
    severity: Severity
    reason: str


def _severity(rule: NewEventRule | UpdateRule, event_type: str) -> Severity:
    return rule.severity_by_type.get(event_type, rule.severity)


def _figure(q) -> str:
    if q.low is not None and q.high is not None and q.low != q.high:
        return f"{q.low:,}–{q.high:,}"
    value = q.low if q.low is not None else q.high
    return "?" if value is None else f"{value:,}"


def weapon_kinds(mention: MentionRef, rules: AlertRules) -> set[str]:
    return {quantity_family(name) for name in mention.quantities if quantity_family(name) in rules.weapon_quantities}


def _update_triggers(facts: Facts, event: CanonicalEvent, mention: MentionRef, rules: AlertRules) -> list[Fired]:
    fired, t = [], event.type

    def fire(trigger: str, reason: str) -> None:
        rule = rules.update(trigger)
        if rule is not None:
            fired.append(Fired(rule.id, TRIGGER_KIND.get(trigger, "update"), _severity(rule, t), reason))

    by = f" by {mention.source_of_claim}" if mention.source_of_claim else ""
    if mention.modality == "confirmed" and not facts.confirmed:
        fire("first_confirmation", "confirmed" + by)
    if mention.modality == "denied" and not facts.denied:
        fire("first_denial", "denied" + by)
    ratio_rule = rules.update("figure_change")
    for name, quantity in sorted(mention.quantities.items()):
        value, known = midpoint(quantity), facts.figures.get(quantity_family(name))
        if ratio_rule and value and known and max(value, *known) >= ratio_rule.min_value \
                and min(max(value / k, k / value) for k in known) > ratio_rule.ratio:
            previous = min(known, key=lambda k: abs(k - value))
            fire("figure_change", f"{name} {previous:,.0f} → {_figure(quantity)}{by}")
    if event.location is not None and event.location.name not in facts.places:
        fire("new_place", f"new place {event.location.name}")
    new_weapons = weapon_kinds(mention, rules) - facts.weapons
    if new_weapons:
        fire("new_weapon", "new weapon " + ", ".join(sorted(new_weapons)))
    return fired


def _learn(facts: Facts, event: CanonicalEvent, mention: MentionRef, rules: AlertRules) -> None:
    facts.revision = event.revision
    if event.last_seen is not None:
        facts.last_seen = int(event.last_seen.timestamp() * 1_000_000)
    if event.location is not None:
        facts.places.add(event.location.name)
    for name, quantity in mention.quantities.items():
        value = midpoint(quantity)
        if value:
            facts.figures.setdefault(quantity_family(name), []).append(value)
    facts.weapons |= weapon_kinds(mention, rules)
    facts.confirmed |= mention.modality == "confirmed"
    facts.denied |= mention.modality == "denied"
    if mention.url:
        facts.links = [mention.url, *(u for u in facts.links if u != mention.url)][:rules.max_links]
    if mention.evidence:
        facts.evidence = [mention.evidence, *facts.evidence][:rules.max_evidence]


def announces(event: CanonicalEvent, mention: MentionRef, rule: NewEventRule) -> bool:
    """Whether this mention makes the event news: a watched type and modality, reported in an article's opening
    (not in passing), and not history (a date the texts fix long before the mention's article)."""
    if event.type not in rule.types or mention.modality not in rule.modalities:
        return False
    if rule.max_evidence_start is not None and mention.evidence is not None \
            and mention.evidence.start > rule.max_evidence_start:
        return False
    if rule.max_age_days is not None and event.event_date and mention.published is not None:
        interval = date_interval(event.event_date)
        if interval is not None and mention.published.timestamp() * 1e6 - interval[1] > rule.max_age_days * DAY:
            return False
    return True


def evaluate(facts: Facts | None, event: CanonicalEvent, rules: AlertRules) -> tuple[Facts, Alert | None]:
    """Facts after `event` (revision r, whose last mention is the one it added) and the alert it raises, if any."""
    facts = facts.copy() if facts is not None else Facts()
    mention = event.mentions[-1]
    fired: list[Fired] = []
    reprint = mention.cluster_id not in (None, mention.article_id)
    if not reprint:
        new = rules.new_event
        if not facts.announced:
            if announces(event, mention, new):
                fired.append(Fired(new.id, new.kind_by_type.get(event.type, "new"), _severity(new, event.type), ""))
        else:
            fired = _update_triggers(facts, event, mention, rules)
    facts.announced |= any(f.rule_id == rules.new_event.id for f in fired)
    _learn(facts, event, mention, rules)
    return facts, (build_alert(event, fired, facts, rules) if fired else None)


def build_alert(event: CanonicalEvent, fired: list[Fired], facts: Facts, rules: AlertRules) -> Alert:
    """The alert of `event` for the rules that `fired`; its links and evidence are the latest the event's
    revisions brought (`facts`, which has learnt this revision's)."""
    kind = max((f.kind for f in fired), key=KIND_RANK.get)
    severity = max((f.severity for f in fired), key=SEVERITY_RANK.get)
    links, evidence = facts.links[:rules.max_links], facts.evidence[:rules.max_evidence]
    when = parse_timestamp(event.event_date) if event.event_date else event.first_seen
    return Alert(alert_id=stable_id("alert", event.event_id, str(event.revision), kind), event_id=event.event_id,
                 revision=event.revision, kind=kind, severity=severity, event_type=event.type,
                 summary=summary(event, kind, fired), evidence=evidence, links=links, event_time=when,
                 actors=[a.code for a in event.actors],
                 rule_id="+".join(f.rule_id for f in fired) + f"@{rules.version}",
                 ontology_version=event.ontology_version)


def summary(event: CanonicalEvent, kind: str, fired: list[Fired]) -> str:
    """One line: what, who, where, when, and what is new."""
    what = event.type.replace("_", " ")
    who = "–".join(a.code for a in event.actors)
    where = f" in {event.location.name}" if event.location else ""
    when = f" ({event.event_date})" if event.event_date else ""
    if kind == "new" or not any(f.reason for f in fired):
        figures = ", ".join(f"{name} {_figure(q)}" for name, q in sorted(event.quantities.items()))
        source = event.mentions[-1].source_of_claim
        detail = "; ".join(p for p in (figures, f"per {source}" if source else "", event.modality) if p)
        line = f"{kind.upper()}: {what} {who}{where}{when}: {detail}"
    else:
        line = f"{kind.upper()}: {what} {who}{where}{when}: " + "; ".join(f.reason for f in fired if f.reason)
    line = f"{line} [{event.independent_sources} source{'s' if event.independent_sources != 1 else ''}]"
    return line if len(line) <= 280 else line[:279] + "…"


@dataclass(frozen=True)
class AlertStep:
    """Per event id: judge each revision once, in revision order, against the facts of the earlier ones."""

    rules: AlertRules
    namespace: str = "alerts"

    def order_key(self, event: CanonicalEvent):
        return event.revision

    def run(self, key: str, state: Facts | None, values: list[CanonicalEvent]):
        out: list[Alert | Pending] = []
        for event in values:
            if state is not None and event.revision <= state.revision:
                continue  # a revision judged before (redelivered)
            state, alert = evaluate(state, event, self.rules)
            if alert is not None and alert.kind == "new" and self.rules.new_event.repeat_as_update:
                out.append(Pending(alert, news_view(event)))
            elif alert is not None:
                out.append(alert)
        return state, out


def alerts_batch(events: list[CanonicalEvent], rules: AlertRules) -> list[Alert]:
    """All alerts of a bounded set of revisions (the folds `RaiseAlerts` runs, without Beam)."""
    by_event: dict[str, list[CanonicalEvent]] = {}
    for event in events:
        by_event.setdefault(event.event_id, []).append(event)
    step, judged = AlertStep(rules), []
    for event_id in sorted(by_event):
        judged.extend(step.run(event_id, None, sorted(by_event[event_id], key=step.order_key))[1])
    settle = SettleStep()
    alerts = [a for a in judged if isinstance(a, Alert)]
    pending = sorted((p for p in judged if isinstance(p, Pending)), key=settle.order_key)
    return alerts + list(settle.run(SETTLE_KEY, None, pending)[1])


def _by_event(event: CanonicalEvent):
    return event.event_id, event


def _facts_time(facts: Facts):
    return facts.last_seen


def judge_step(rules: AlertRules) -> ShardedStep:
    """`Judge`'s step: `AlertStep` per event id inside hash shards, its facts kept `FACTS_HORIZON_DAYS`."""
    return ShardedStep(AlertStep(rules), _by_event, _facts_time, FACTS_HORIZON_DAYS * DAY_MICROS)


class RaiseAlerts(beam.PTransform):
    """CanonicalEvent revisions → Alert (at most one per (event_id, revision))."""

    def __init__(self, rules: AlertRules, tick_micros: int = DEFAULT_TICK_MICROS, event_shards: int = 64):
        super().__init__()
        self.rules = rules
        self.tick_micros = tick_micros
        self.event_shards = event_shards

    def expand(self, events):
        shards = self.event_shards
        judge = judge_step(self.rules)
        judged = (
            events
            | "KeyByEvent" >> beam.Map(lambda e: (shard_of(e.event_id, shards, "a"), e))
            .with_output_types(tuple[str, CanonicalEvent])
            | "Judge" >> OrderedFold(judge, self.tick_micros)
            | "SplitNew" >> beam.Partition(lambda item, _: int(isinstance(item, Pending)), 2)
        )
        settled = (
            judged[1]
            | "OneKey" >> beam.Map(lambda p: (SETTLE_KEY, p)).with_output_types(tuple[str, Pending])
            | "SettleNew" >> OrderedFold(SettleStep(), self.tick_micros)
        )
        return (judged[0], settled) | "AllAlerts" >> beam.Flatten()
