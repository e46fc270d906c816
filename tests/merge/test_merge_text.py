"""Evidence-term similarity (`pipeline.merge_text`): terms, their weights, coverage and closest article."""

from __future__ import annotations

from pipeline.merge_text import article_terms, closest, coverage, term_id, words
from pipeline.stages import mentions_of
from schemas.records import EventMention


def test_terms_are_the_numbers_and_long_words_of_the_title_and_the_evidence(make_mention):
    plain = make_mention("a", text="Envoys met at Hasan on 3 May, 2024")
    titled = make_mention("a", text="Envoys met at Hasan on 3 May, 2024", title="Talks at the border post")
    assert words("Envoys met at Hasan on 3 May, 2024") == {"envoys", "hasan", "3", "2024"}
    assert article_terms([plain]) == {term_id(w) for w in ("envoys", "hasan", "3", "2024")}
    assert article_terms([titled]) - article_terms([plain]) == {term_id(w) for w in ("talks", "border", "post")}


def test_a_term_is_the_same_32_bit_number_in_every_process():
    """Pinned: the story index of a running job holds these numbers; Python's salted hash() would not do."""
    assert (term_id("kursk"), term_id("koksan")) == (1960353983, 919627099)


def test_rare_shared_words_count_more_than_common_ones():
    koksan, kursk, korea, troops = (term_id(w) for w in ("koksan", "kursk", "korea", "troops"))
    df = {korea: 40, troops: 35, kursk: 10, koksan: 1}  # in how many of 50 stories each occurs
    article = frozenset({koksan, korea, troops})
    assert coverage(article, {koksan}, df, 50) > 0.5 > coverage(article, {korea, troops}, df, 50)
    assert coverage(frozenset(), {koksan}, df, 50) == coverage(article, set(), df, 50) == 0.0


def test_closest_compares_with_each_article_of_a_story_not_with_their_union():
    terms = [frozenset(term_id(f"w{i}{j}") for j in range(12)) for i in range(6)]  # six articles, other words
    article = terms[2] | {term_id("extra")}
    assert closest(article, terms, {}, 10) > 0.9
    union = frozenset().union(*terms)
    assert closest(article, [union], {}, 10) < 0.5
    assert closest(article, [], {}, 10) == closest(frozenset(), terms, {}, 10) == 0.0


def test_mentions_carry_their_article_s_title_and_old_records_without_one_still_parse(make_article, make_event):
    titled = make_article("a", "Text.", events=[make_event()], title="Troops reach Kursk")
    assert [m.title for m in mentions_of(titled)] == ["Troops reach Kursk"]
    assert [m.title for m in mentions_of(make_article("b", "Text.", events=[make_event()]))] == [None]
    old = mentions_of(titled)[0].model_dump(exclude={"title"})
    assert EventMention.model_validate(old).title is None
