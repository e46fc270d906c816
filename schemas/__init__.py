"""pydantic models of every payload and the topic registry."""

from schemas.records import (  # noqa: F401
    SCHEMA_VERSION,
    Alert,
    CanonicalEvent,
    DeadLetter,
    EnrichedArticle,
    EventMention,
    Extraction,
    ExtractedEvent,
    RawArticle,
)
