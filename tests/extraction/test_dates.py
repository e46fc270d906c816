"""Event dates: explicit, relative to the publication date, and left open when the text does not fix them."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.extraction.dates import resolve_date

FRIDAY = date(2024, 11, 29)


@pytest.mark.parametrize("sentence, expected", [
    ("Belousov arrived in Pyongyang on Friday.", "2024-11-29"),
    ("The talks took place on Monday.", "2024-11-25"),
    ("Officials met yesterday.", "2024-11-28"),
    ("Shoigu visited Pyongyang in July.", "2024-07"),
    ("Kim travelled to Russia in December.", "2023-12"),          # a December after November: the last one
    ("Thousands were sent last year.", "2023"),
    ("The treaty came into force on 4 December 2024.", "2024-12-04"),
    ("It was used in a December 30, 2023, strike.", "2023-12-30"),
    ("He arrived on Nov. 29, amid talks.", "2024-11-29"),
    ("The engineers left in early August.", "2024-08"),
    ("Around 10,000 troops were sent in 2024.", "2024"),
    ("Визит состоялся 11–13 июля.", "2024-07-11"),
    ("Військові повернулися у грудні 2025-го.", "2025-12"),
    ("국정원은 다음 달 9일 행사에 대해 전했다.", "2024-12-09"),
    ("국정원은 지난해 파병이 이뤄졌다고 밝혔다.", "2023"),
])
def test_dates_resolved_against_publication(sentence, expected):
    assert resolve_date(sentence, FRIDAY) == expected


def test_future_weekday_looks_forward():
    assert resolve_date("Kim will visit Moscow on Monday.", FRIDAY, future=True) == "2024-12-02"


@pytest.mark.parametrize("sentence", [
    "Since mid-2022, North Korea has shipped containers.",   # the start of a period, not an event date
    "North Korea may supply more shells.",                    # "may" is no month
    "No date in this sentence.",
])
def test_no_date(sentence):
    assert resolve_date(sentence, FRIDAY) is None


def test_relative_dates_need_a_publication_date():
    assert resolve_date("The talks took place on Monday.", None) is None
    assert resolve_date("Shoigu visited Pyongyang in July.", None) is None
    assert resolve_date("The treaty came into force on 4 December 2024.", None) == "2024-12-04"
