"""Event dates: sentence text + the article's publication date → ISO date (YYYY-MM-DD, YYYY-MM or YYYY) or None.

Relative expressions ("on Monday", "in July", "last year", "30일") resolve against the publication date,
never against a clock; without a publication date only expressions that carry their year resolve.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11,
    "dec": 12,
    "январ": 1, "феврал": 2, "март": 3, "апрел": 4, "мая": 5, "мае": 5, "май": 5, "июн": 6, "июл": 7, "август": 8,
    "сентябр": 9, "октябр": 10, "ноябр": 11, "декабр": 12,
    "січ": 1, "лют": 2, "берез": 3, "квіт": 4, "травн": 5, "черв": 6, "лип": 7, "серп": 8, "верес": 9, "жовт": 10,
    "листопад": 11, "груд": 12,
    "januar": 1, "februar": 2, "märz": 3, "juni": 6, "juli": 7, "oktober": 10, "dezember": 12,
    "janvier": 1, "février": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "août": 8,
    "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12,
}
_EN_MONTH = (r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
             r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_RU_MONTH = (r"(?P<mon>январ[яеь]|феврал[яеь]|марта?|марте|апрел[яеь]|ма[яйе]|июн[яеь]|июл[яеь]|августа?|"
             r"августе|сентябр[яеь]|октябр[яеь]|ноябр[яеь]|декабр[яеь]|січ(?:ня|ні|ень)|лют(?:ого|ому|ий)|"
             r"берез(?:ня|ні|ень)|квіт(?:ня|ні|ень)|травн(?:я|і)|трав(?:ень)|черв(?:ня|ні|ень)|лип(?:ня|ні|ень)|"
             r"серп(?:ня|ні|ень)|верес(?:ня|ні|ень)|жовт(?:ня|ні|ень)|листопад(?:а|і)?|груд(?:ня|ні|ень))")
_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
             "понедельник": 0, "вторник": 1, "среду": 2, "среда": 2, "четверг": 3, "пятницу": 4, "пятница": 4,
             "субботу": 5, "суббота": 5, "воскресенье": 6, "понеділок": 0, "вівторок": 1, "середу": 2,
             "четвер": 3, "п'ятницю": 4, "п’ятницю": 4, "суботу": 5, "неділю": 6,
             "월요일": 0, "화요일": 1, "수요일": 2, "목요일": 3, "금요일": 4, "토요일": 5, "일요일": 6}
_SINCE = re.compile(r"(?:since|from|starting|beginning|с|з|이후)\s+(?:the\s+)?(?:end of\s+|early\s+|mid-?\s*|"
                    r"late\s+)?$", re.IGNORECASE)

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"(?<!\d)(?P<y>20\d\d)-(?P<m>\d\d)-(?P<d>\d\d)(?!\d)")),
    ("mdy", re.compile(rf"(?<!\w){_EN_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:[-–]\d{{1,2}})?,?\s+"
                       rf"(?P<y>20\d\d)(?!\d)")),
    ("dmy", re.compile(rf"(?<!\d)(?P<d>\d{{1,2}})(?:[-–]\d{{1,2}})?\s+{_EN_MONTH},?\s+(?P<y>20\d\d)(?!\d)")),
    ("ru_dmy", re.compile(rf"(?<!\d)(?P<d>\d{{1,2}})(?:\s?[-–]\s?\d{{1,2}})?\s+{_RU_MONTH}(?:\s+(?P<y>20\d\d))?",
                          re.IGNORECASE)),
    ("ko_ymd", re.compile(r"(?P<y>20\d\d)년\s?(?P<m>\d{1,2})월(?:\s?(?P<d>\d{1,2})일)?")),
    ("ko_md", re.compile(r"(?<!\d)(?P<m>\d{1,2})월\s?(?P<d>\d{1,2})일")),
    ("ko_next", re.compile(r"다음\s?달\s?(?P<d>\d{1,2})일")),
    ("ko_d", re.compile(r"(?<![\d월])(?P<d>\d{1,2})일(?!\s?(?:간|동안))")),
    ("md", re.compile(rf"(?<!\w)(?:on\s+|by\s+|until\s+)?{_EN_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?"
                      rf"(?!\d|,?\s+20\d\d)")),
    ("dm", re.compile(rf"(?<!\w)(?:on\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:[-–]\d{{1,2}})?\s+(?:of\s+)?"
                      rf"{_EN_MONTH}(?!\w)(?!,?\s+20\d\d)")),
    ("my", re.compile(rf"(?<!\w)(?:early|mid-?|late|the end of|end of)?\s?{_EN_MONTH}\s+(?P<y>20\d\d)(?!\d)")),
    ("ru_my", re.compile(rf"(?<!\w)(?:в|у|во)\s+{_RU_MONTH}\s+(?P<y>20\d\d)", re.IGNORECASE)),
    ("m", re.compile(rf"(?<!\w)(?:in|last|this|since|early|mid-?|late|until|by|during)\s+(?:early\s+|mid-?|late\s+)?"
                     rf"(?-i:{_EN_MONTH})(?!\w)", re.IGNORECASE)),
    ("ru_m", re.compile(rf"(?<!\w)(?:в|у|во|в начале|в конце|на початку|наприкінці)\s+{_RU_MONTH}(?!\w)",
                        re.IGNORECASE)),
    ("weekday", re.compile(r"(?<!\w)(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday|понедельник|"
                           r"вторник|среду|четверг|пятницу|субботу|воскресенье|понеділок|вівторок|середу|четвер|"
                           r"п['’]ятницю|суботу|неділю|[월화수목금토일]요일)(?!\w)", re.IGNORECASE)),
    ("rel_day", re.compile(r"(?<!\w)(?P<rel>yesterday|today|tonight|вчера|сегодня|вчора|сьогодні|어제|오늘)(?!\w)",
                           re.IGNORECASE)),
    ("year_rel", re.compile(r"(?<!\w)(?P<rel>last year|this year|next year|earlier this year|в прошлом году|"
                            r"в этом году|минулого року|торік|цього року|지난해|작년|올해|내년)(?!\w)", re.IGNORECASE)),
    ("month_rel", re.compile(r"(?<!\w)(?P<rel>last month|this month|next month|earlier this month|"
                             r"в прошлом месяце|минулого місяця|지난달|이번 달)(?!\w)", re.IGNORECASE)),
    ("year", re.compile(r"(?<!\w)(?:in|during|by)\s+(?P<y>20\d\d)(?!\d|-)", re.IGNORECASE)),
    ("year_ko", re.compile(r"(?P<y>20\d\d)년(?!\s?\d{1,2}월)")),
    ("year_uk", re.compile(r"(?<!\w)(?:у|в)\s+(?P<y>20\d\d)(?:-?(?:му|го|м))?\s+(?:році|году)", re.IGNORECASE)),
]


def _month(name: str) -> int | None:
    low = name.lower().rstrip(".")
    for key, value in _MONTHS.items():
        if low.startswith(key):
            return value
    return None


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    n = year * 12 + (month - 1) + delta
    return n // 12, n % 12 + 1


def _infer_year(month: int, day: int | None, published: date, future: bool) -> int:
    """The year that puts month/day nearest before (or, for expectations, after) the publication date."""
    year = published.year
    if day is None:  # a month: the last one (or, for an expectation, the next one) around publication
        if not future and month > published.month:
            return year - 1
        return year + 1 if future and month < published.month else year
    candidate = date(year, month, min(day, 28))
    if not future and candidate > published + timedelta(days=7):
        return year - 1
    if future and candidate < published - timedelta(days=20):
        return year + 1
    return year


_DIGIT = re.compile(r"\d")
_EN_MONTH_NEEDLE = re.compile(r"\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
                              r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b")
_CYRILLIC = re.compile(r"[а-яіїєґ]", re.IGNORECASE)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_REL_NEEDLE = re.compile(r"yesterday|today|tonight|year|month|вчера|сегодня|вчора|сьогодні|году|року|торік|месяц|"
                         r"місяц|어제|오늘|지난|작년|올해|내년|이번", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _kinds(sentence: str) -> frozenset[str]:
    """Pattern kinds worth trying on this sentence (cheap needles first: most sentences carry no date)."""
    digit = _DIGIT.search(sentence) is not None
    kinds = set()
    if digit:
        kinds |= {"iso", "year"}
    if _EN_MONTH_NEEDLE.search(sentence):
        kinds |= {"mdy", "dmy", "md", "dm", "my", "m"}
    if _CYRILLIC.search(sentence):
        kinds |= {"ru_dmy", "ru_my", "ru_m", "year_uk", "weekday", "rel_day", "year_rel", "month_rel"}
    if _HANGUL.search(sentence):
        kinds |= {"ko_ymd", "ko_md", "ko_next", "ko_d", "year_ko", "weekday", "rel_day", "year_rel", "month_rel"}
    low = sentence.lower()
    if "day" in low:
        kinds |= {"weekday", "rel_day"}
    if _REL_NEEDLE.search(sentence):
        kinds |= {"rel_day", "year_rel", "month_rel"}
    return frozenset(kinds)


@lru_cache(maxsize=4096)
def resolve_date(sentence: str, published: date | None, future: bool = False) -> str | None:
    """The first date the sentence fixes (not a "since …" start of a period), as ISO text, or None."""
    hits: list[tuple[int, str | None]] = []
    taken: list[tuple[int, int]] = []
    kinds = _kinds(sentence)
    for kind, pattern in _PATTERNS:
        if kind not in kinds:
            continue
        for m in pattern.finditer(sentence):
            if any(s <= m.start() < e or s < m.end() <= e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            if _SINCE.search(sentence[max(0, m.start() - 24):m.start()]):
                continue
            hits.append((m.start(), _value(kind, m, published, future)))
    for _, value in sorted(hits, key=lambda h: h[0]):
        if value:
            return value
    return None


def _value(kind: str, m: re.Match[str], published: date | None, future: bool) -> str | None:
    g = {k: v for k, v in m.groupdict().items() if v is not None}
    try:
        return _absolute(kind, g, published, future) if kind in _ABSOLUTE else (
            _relative(kind, g, m, published, future) if published is not None else None)
    except ValueError:  # 31 February and the like
        return None


_ABSOLUTE = frozenset({"iso", "ko_ymd", "mdy", "dmy", "ru_dmy", "my", "ru_my", "year", "year_ko", "year_uk"})


def _absolute(kind: str, g: dict[str, str], published: date | None, future: bool) -> str | None:
    """Dates that carry their year (a Russian day and month borrows it from the publication date)."""
    if kind in {"year", "year_ko", "year_uk"}:
        return f"{int(g['y']):04d}"
    month = _month(g["mon"]) if "mon" in g else int(g["m"])
    if month is None:
        return None
    if "y" in g:
        year = int(g["y"])
    elif published is not None and "d" in g:
        year = _infer_year(month, int(g["d"]), published, future)
    else:
        return None
    return date(year, month, int(g["d"])).isoformat() if "d" in g else f"{year:04d}-{month:02d}"


def _relative(kind: str, g: dict[str, str], m: re.Match[str], published: date, future: bool) -> str | None:
    """Dates resolved against the publication date."""
    if kind in {"md", "dm", "ko_md", "m", "ru_m"}:
        month = _month(g["mon"]) if "mon" in g else int(g["m"])
        if month is None:
            return None
        if "d" in g:
            day = int(g["d"])
            return date(_infer_year(month, day, published, future), month, day).isoformat()
        year = _infer_year(month, None, published, future)
        if m.group(0).lower().startswith("last") and year == published.year and month >= published.month:
            year -= 1
        return f"{year:04d}-{month:02d}"
    if kind == "ko_next":
        y, mo = _shift_month(published.year, published.month, 1)
        return date(y, mo, int(g["d"])).isoformat()
    if kind == "ko_d":
        return date(published.year, published.month, int(g["d"])).isoformat()
    if kind == "weekday":
        target = _WEEKDAYS[g["wd"].lower()]
        if future:
            return (published + timedelta(days=(target - published.weekday()) % 7)).isoformat()
        return (published - timedelta(days=(published.weekday() - target) % 7)).isoformat()
    return _relative_period(kind, g["rel"].lower(), published)


def _relative_period(kind: str, rel: str, published: date) -> str | None:
    if kind == "rel_day":
        back = 1 if rel in {"yesterday", "вчера", "вчора", "어제"} else 0
        return (published - timedelta(days=back)).isoformat()
    if kind == "year_rel":
        delta = -1 if rel in {"last year", "в прошлом году", "минулого року", "торік", "지난해", "작년"} else (
            1 if rel in {"next year", "내년"} else 0)
        return f"{published.year + delta:04d}"
    if kind == "month_rel":
        delta = -1 if rel in {"last month", "в прошлом месяце", "минулого місяця", "지난달"} else (
            1 if rel == "next month" else 0)
        y, mo = _shift_month(published.year, published.month, delta)
        return f"{y:04d}-{mo:02d}"
    return None
