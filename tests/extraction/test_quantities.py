"""Quantities: number forms, ranges, bounds, hedges and vague amounts, in several languages."""

from __future__ import annotations

import pytest

from pipeline.extraction.quantities import find_quantities, number_value, parse_quantity


def figures(text: str, ontology) -> dict[str, tuple]:
    found = find_quantities(text, 0, len(text), ontology.quantity_after_re, ontology.quantity_before_re,
                            ontology.quantity_names)
    return {q.name: (q.quantity.low, q.quantity.high, q.quantity.approx, q.quantity.vague) for q in found}


@pytest.mark.parametrize("text, name, expected", [
    ("about 4,000 troops were sent", "troops", (4000, 4000, True, False)),
    ("between 10,000 and 12,000 soldiers", "troops", (10000, 12000, False, False)),
    ("25,000-30,000 troops", "troops", (25000, 30000, False, False)),
    ("an additional 25,000 to 30,000 troops", "troops", (25000, 30000, False, False)),
    ("more than 10,000 North Korean soldiers", "troops", (10000, None, False, False)),
    ("the 10,000-plus soldiers", "troops", (10000, None, False, False)),
    ("up to 12,000 North Koreans were deployed", "troops", (None, 12000, False, False)),
    ("as many as 1,000 containers", "containers", (None, 1000, False, False)),
    ("thousands of workers", "workers", (None, None, False, True)),
    ("tens of thousands of workers", "workers", (None, None, False, True)),
    ("several ballistic missiles", "missiles", (None, None, False, True)),
    ("nine soldiers were killed", "troops", (9, 9, False, False)),
    ("at least a thousand of Pyongyang's soldiers", "troops", (1000, None, False, False)),
    ("more than 6 million artillery shells", "shells", (6_000_000, None, False, False)),
    ("over six million 152-mm artillery shells", "shells", (6_000_000, None, False, False)),
    ("nearly 50 M-1978 \"Koksan\" self-propelled howitzers", "howitzers", (50, 50, True, False)),
    ("120 M1991 multiple-launch rocket systems", "mlrs", (120, 120, False, False)),
    ("over 6,000 killed", "killed", (6000, None, False, False)),
    ("losses exceeding 4,000", "losses", (4000, None, False, False)),
    ("a $111 million bridge", "cost_usd", (111_000_000, 111_000_000, False, False)),
    ("1,500 special forces", "special_forces", (1500, 1500, False, False)),
    ("knapp 50 schwere Haubitzen", "howitzers", (50, 50, True, False)),
    ("около 11 тысяч военнослужащих", "troops", (11000, 11000, True, False)),
    ("орієнтовно 1,1 тис. військових", "troops", (1100, 1100, True, False)),
    ("шість тисяч військових", "troops", (6000, 6000, False, False)),
    ("загибель дев'яти солдатів", "troops", (9, 9, False, False)),
    ("1만5000여 명을 파병", "troops", (15000, 15000, True, False)),
    ("총 1만 5천 명을 러시아에 파병", "troops", (15000, 15000, False, False)),
    ("사망자 600명을 포함", "killed", (600, 600, False, False)),
    ("4천700여 명의 사상자", "killed_or_wounded", (4700, 4700, True, False)),
    ("sekitar 20 personel militer", "troops", (20, 20, True, False)),
    ("a ballistic missile launcher", "launchers", (1, 1, False, False)),
    ("nearly 2000 containers of weapons", "containers", (2000, 2000, True, False)),  # year-like, hedged: a count
    ("more than 1950 troops", "troops", (1950, None, False, False)),
])
def test_figure_forms(ontology, text, name, expected):
    assert figures(text, ontology)[name] == expected


@pytest.mark.parametrize("text, number", [
    ("240mm multiple rocket launchers were seen", 240),   # a calibre, not a count
    ("soldiers of the 11th Corps", 11),                    # an ordinal
    ("on December 30, 2023, troops moved", 30),            # a date
    ("in 2024, 3,000 troops were sent", 2024),             # a year
    ("since 2022 troops have rotated", 2022),              # a year before the noun
    ("a 25% chance that troops stay", 25),                 # a percentage
])
def test_non_figures(ontology, text, number):
    values = {n for low, high, _, _ in figures(text, ontology).values() for n in (low, high)}
    assert number not in values


@pytest.mark.parametrize("token, value", [
    ("10,000", 10000), ("10 000", 10000), ("10.000", 10000), ("1,1 тис.", 1100), ("4.7", 4.7),
    ("six million", 6_000_000), ("1만5천", 15000), ("4천700", 4700), ("$111M", 111_000_000), ("ten", 10),
])
def test_number_values(token, value):
    assert number_value(token) == value


def test_parse_quantity_of_label_strings():
    assert parse_quantity("about 4,000") .model_dump() == {"low": 4000, "high": 4000, "approx": True, "vague": False}
    assert parse_quantity("between 10,000 and 12,000").low == 10000
    assert parse_quantity("between 10,000 and 12,000").high == 12000
    assert parse_quantity("thousands").vague is True
    assert parse_quantity("a \"small number\"").vague is True
    assert parse_quantity("no figure here") is None
