"""Ontology: versioned YAML → validated pydantic spec → `Ontology` with every pattern compiled once (picklable).

Nothing here looks at articles; `load_ontology` raises `OntologyError` on an invalid file.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.extraction.matcher import VocabularyMatcher
from pipeline.extraction.quantities import NUMBER_WORDS, VAGUE_PATTERNS
from schemas.records import ActorRole, EventType, Precision

DEFAULT_PATH = Path(__file__).with_name("ontology.yaml")
# vocabularies built from other sections: every person alias; the named weapons of the focus state
DERIVED_VOCABULARIES = frozenset({"people", "focus_weapons"})
ActorKind = Literal["country", "city", "organisation", "person", "surname"]
_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
FLAGS = re.IGNORECASE


class OntologyError(ValueError):
    """The ontology file is missing, unparsable or inconsistent."""


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rule(_Spec):
    """Every vocabulary of `all` occurs in the sentence (within `near` characters of one another, if set)
    and no vocabulary of `none` does."""

    all: list[str] = Field(min_length=1)
    none: list[str] = []
    near: int | None = None
    confidence: float = Field(0.6, ge=0.0, le=1.0)

    @cached_property
    def all_set(self) -> frozenset[str]:
        return frozenset(self.all)


class Need(_Spec):
    """One group of actor codes an event needs; `context` allows the group to be met by the two sentences
    before or the title: always (true), never (false), or only when the sentence has a hit of the named
    vocabulary (e.g. "dyad": "the two countries")."""

    codes: list[str] = Field(min_length=1)
    context: bool | str = False
    implied: str | None = None
    speaker: bool = False


class EventTypeSpec(_Spec):
    definition: str
    plover: str
    cameo: str
    rules: list[Rule] = []
    needs: list[Need] = []
    roles: dict[str, ActorRole] = {}
    default_role: ActorRole = "agent"
    # a transfer from the agent to the recipient: a sentence naming the reverse direction does not state it
    directed: bool = False
    quantities: list[str] = []


class ActorSpec(_Spec):
    code: str = Field(pattern=r"^[A-Z]{3}$")
    name: str
    state: bool = True
    aliases: dict[ActorKind, list[str]]


class PlaceSpec(_Spec):
    name: str
    country: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    precision: Precision
    metonymic: bool = False
    forum: bool = False
    aliases: list[str] = Field(min_length=1)


class WeaponSpec(_Spec):
    id: str
    category: str
    origin: str | None = None
    aliases: list[str] = Field(min_length=1)


class UnitSpec(_Spec):
    id: str
    country: str
    aliases: list[str] = Field(min_length=1)


class SourceSpec(_Spec):
    """Who can be the source of a claim. `party`: the DPRK or Russian state itself (its statements about
    itself confirm or deny); `state_media`: a party's news agency (its reports are assertions)."""

    name: str
    code: str | None = None
    party: bool = False
    state_media: bool = False
    aliases: list[str] = Field(min_length=1)


class CueSpec(_Spec):
    attribution_prep: list[str]
    attribution: list[str]
    hedge: list[str]
    expected: list[str]
    modal: list[str]
    concern: list[str]
    belief: list[str]
    negated_say: list[str]


class RelevanceSpec(_Spec):
    focus: str = Field(pattern=r"^[A-Z]{3}$")
    partner: str = Field(pattern=r"^[A-Z]{3}$")
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    theatre: list[str] = []


class OntologySpec(_Spec):
    """The YAML file, validated."""

    version: str = Field(min_length=1)
    relevance: RelevanceSpec
    lexicons: dict[str, list[str]]
    event_types: dict[EventType, EventTypeSpec]
    actors: list[ActorSpec]
    places: list[PlaceSpec]
    weapons: list[WeaponSpec] = []
    units: list[UnitSpec] = []
    quantity_nouns: dict[str, list[str]]
    sources: list[SourceSpec]
    cues: CueSpec

    @field_validator("event_types")
    @classmethod
    def _all_types(cls, value: dict[str, EventTypeSpec]) -> dict[str, EventTypeSpec]:
        missing = set(get_args(EventType)) - set(value)
        if missing:
            raise ValueError(f"event types missing from the ontology: {sorted(missing)}")
        return value

    @model_validator(mode="after")
    def _references(self) -> OntologySpec:
        codes = {a.code for a in self.actors}
        if {self.relevance.focus, self.relevance.partner} - codes:
            raise ValueError("relevance names an actor code the ontology does not define")
        for name, spec in self.event_types.items():
            for rule in spec.rules:
                unknown = [lex for lex in rule.all + rule.none
                           if lex not in self.lexicons and lex not in DERIVED_VOCABULARIES]
                if unknown:
                    raise ValueError(f"{name}: rule names unknown vocabularies {unknown}")
            for need in spec.needs:
                if isinstance(need.context, str) and need.context not in {*self.lexicons, *DERIVED_VOCABULARIES}:
                    raise ValueError(f"{name}: need context names unknown vocabulary {need.context}")
                if set(need.codes) - codes:
                    raise ValueError(f"{name}: needs unknown actor codes {sorted(set(need.codes) - codes)}")
        for place in self.places:
            if place.country not in codes:
                raise ValueError(f"place {place.name}: unknown country {place.country}")
        for pattern in self._patterns():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid pattern {pattern!r}: {exc}") from None
        return self

    def _patterns(self):  # type: ignore[no-untyped-def]
        yield from (p for pats in self.lexicons.values() for p in pats)
        yield from (p for a in self.actors for pats in a.aliases.values() for p in pats)
        yield from (p for x in [*self.places, *self.sources, *self.weapons, *self.units] for p in x.aliases)
        yield from (p for pats in self.quantity_nouns.values() for p in pats)
        yield from (p for name in CueSpec.model_fields for p in getattr(self.cues, name))


def fragment(pattern: str) -> str:
    """Wrap one vocabulary fragment in word boundaries (none for Hangul, which attaches particles)."""
    if _HANGUL.search(pattern):
        return f"(?:{pattern})"
    return rf"(?<!\w)(?:{pattern})(?!\w)"


def alternation(patterns: list[str]) -> str:
    """Fragments joined one by one with their own boundaries (for short patterns used with .match)."""
    return "|".join(fragment(p) for p in sorted(patterns, key=len, reverse=True))


def probe(patterns: list[str]) -> re.Pattern[str]:
    """One pattern that finds any of `patterns` (a quick yes/no over a whole text)."""
    latin = [p for p in patterns if not _HANGUL.search(p)]
    hangul = [p for p in patterns if _HANGUL.search(p)]
    parts = [rf"(?<!\w)(?:{'|'.join(latin)})(?!\w)"] if latin else []
    parts += [f"(?:{'|'.join(hangul)})"] if hangul else []
    return re.compile("|".join(parts) or r"(?!x)x", FLAGS)


class Ontology:
    """The validated spec plus compiled matchers. Pickles as its spec and recompiles on load."""

    def __init__(self, spec: OntologySpec) -> None:
        self.spec = spec
        self.version = spec.version
        # every vocabulary shares one token-indexed matcher; a hit's tag says which entry matched
        self.actor_keys: list[tuple[str, str]] = []
        entries: list[tuple[str, Hashable]] = []
        for actor in spec.actors:
            for kind, aliases in actor.aliases.items():
                entries += [(alias, ("actor", len(self.actor_keys))) for alias in aliases]
                self.actor_keys.append((actor.code, kind))
        for i, place in enumerate(spec.places):
            entries += [(alias, ("place", i)) for alias in place.aliases]
        for i, source in enumerate(spec.sources):
            entries += [(alias, ("source", i)) for alias in source.aliases]
        for name, patterns in spec.lexicons.items():
            entries += [(p, ("lex", name)) for p in patterns]
        entries += [(p, ("lex", "people")) for actor in spec.actors for p in actor.aliases.get("person", [])]
        for weapon in spec.weapons:  # systems the focus state could supply (its own, or generic munitions)
            if weapon.origin in (None, spec.relevance.focus):
                entries += [(p, ("lex", "weapon_items")) for p in weapon.aliases]
            if weapon.origin == spec.relevance.focus:
                entries += [(p, ("lex", "focus_weapons")) for p in weapon.aliases]
        entries += [(p, ("lex", "troops")) for unit in spec.units for p in unit.aliases]
        for name in CueSpec.model_fields:
            entries += [(p, ("cue", name)) for p in getattr(spec.cues, name)]
        # where figures start: the quantity parser's number words and vague amounts (language, not domain data)
        entries += [(re.escape(w), ("cue", "number_word")) for w in NUMBER_WORDS]
        entries += [(p, ("cue", "vague")) for p in VAGUE_PATTERNS]
        self.matcher = VocabularyMatcher(entries, FLAGS)
        self.actor_names = {a.code: a.name for a in spec.actors}
        self.non_state_codes = frozenset(a.code for a in spec.actors if not a.state)
        self.places = spec.places
        self.sources = spec.sources
        self.weapons = spec.weapons
        self.quantity_names = list(spec.quantity_nouns)
        noun_groups = "|".join(f"(?P<q{i}>{alternation(pats)})" for i, pats in enumerate(spec.quantity_nouns.values()))
        # the noun after a figure, past at most four modifiers ("120 North Korean-made M1989 Koksans")
        self.quantity_after_re = re.compile(
            rf"[\s\"“”'’(-]{{0,3}}(?:[\w\-\"“”'’.]+\s+){{0,4}}?(?:{noun_groups})", FLAGS)
        # the noun before a figure (Korean word order: "사망자 600명")
        self.quantity_before_re = re.compile(rf"(?:{noun_groups})[^\s\d]{{0,2}}\s*$", FLAGS)
        self.event_types: dict[str, EventTypeSpec] = {str(k): v for k, v in spec.event_types.items()}
        # which types a vocabulary can trigger (it leads one of their rules): a sentence only tries those
        self.types_by_lexicon: dict[str, tuple[str, ...]] = {}
        for name, etype in spec.event_types.items():
            for lexicon in {rule.all[0] for rule in etype.rules}:
                self.types_by_lexicon[lexicon] = (*self.types_by_lexicon.get(lexicon, ()), name)
        self.type_order: dict[str, int] = {str(name): i for i, name in enumerate(spec.event_types)}
        self.relevance = spec.relevance
        self.pair = frozenset({spec.relevance.focus, spec.relevance.partner})
        focus = next(a for a in spec.actors if a.code == spec.relevance.focus)
        # any name of the focus state (bare surnames excepted): articles without one are not relevant
        self.focus_probe = probe([p for kind, pats in focus.aliases.items() if kind != "surname" for p in pats])

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Ontology, (self.spec,))


def load_ontology(path: Path | None = None) -> Ontology:
    """Read, validate and compile the ontology (default: the YAML shipped beside this module)."""
    return _load_cached(str(Path(path) if path is not None else DEFAULT_PATH))


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Ontology:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise OntologyError(f"cannot read ontology {path}: {exc}") from exc
    try:
        spec = OntologySpec.model_validate(raw)
    except ValidationError as exc:
        raise OntologyError(f"invalid ontology {path}: {exc}") from exc
    try:
        return Ontology(spec)
    except re.error as exc:
        raise OntologyError(f"invalid pattern in ontology {path}: {exc}") from exc
