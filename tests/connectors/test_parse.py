"""parse_document and normalisation as pure functions: ids, text, dates, language, hostile documents."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.feeds.normalize import article_id, parse_date
from connectors.feeds.parse import MAX_DOCUMENT_BYTES, parse_document
from connectors.feeds.registry import FeedConfig
from connectors.feeds.text import is_clean, to_text
from connectors.feeds.urls import canonical_url

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
NOW = datetime(2024, 10, 21, tzinfo=UTC)
WIRE = FeedConfig(id="wire", url="https://wire.example.org/feed", outlet="Test Wire Outlet", timezone="Asia/Seoul")


def parse(name: str, **kw):
    return parse_document((FIXTURES / name).read_bytes(), ref=name, fetched_at=NOW, **kw)


@pytest.mark.parametrize("raw, canonical", [
    ("HTTPS://Wire.Example.org:443/a?utm_source=x&b=2&a=1#frag", "https://wire.example.org/a?a=1&b=2"),
    ("http://example.org:80", "http://example.org/"),
    ("http://example.org:8080/x?fbclid=1&gclid=2", "http://example.org:8080/x"),
    ("https://example.org/%7euser/%2f", "https://example.org/~user/%2F"),
    ("https://пример.рф/новости", "https://xn--e1afmkfd.xn--p1ai/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"),
    ("javascript:alert(1)", None), ("data:text/html,hi", None), ("file:///etc/passwd", None),
    ("/relative", None), ("", None),
])
def test_canonical_url(raw, canonical):
    assert canonical_url(raw) == canonical


def test_relative_links_resolve_against_the_base():
    assert canonical_url("../b?utm_medium=rss", "https://Example.org/x/y") == "https://example.org/b"


def test_id_falls_back_from_url_to_guid_to_content_hash():
    assert article_id("https://a.example/x", "g1", "scope", "t", "", None) == "https://a.example/x"
    assert article_id(None, "https://A.example/x#c", "scope", "t", "", None) == "https://a.example/x"
    assert article_id(None, "1234", "https://feed.example/", "t", "", None) == "guid:https://feed.example/:1234"
    assert article_id(None, "urn:uuid:1-2", "s", "t", "", None) == "guid:urn:uuid:1-2"
    hashed = article_id(None, None, "s", "title", "text", None)
    assert hashed.startswith("sha256:") and hashed == article_id(None, None, "s", "title", "text", None)
    assert hashed != article_id(None, None, "s", "title", "other text", None)


def test_html_becomes_clean_text():
    html = ('<p onclick="x()">One <b>two</b></p><script>evil()</script><style>p{}</style>'
            '<a href="javascript:alert(1)">link</a><iframe src="x">inner</iframe>&amp;lt;script&amp;gt;bad()'
            '&amp;lt;/script&amp;gt;<noscript><img src=x onerror=alert(1)></noscript>')
    text = to_text(html)
    assert "One two" in text and "link" in text
    assert "evil" not in text and "inner" not in text and "onclick" not in text and is_clean(text)
    assert is_clean(to_text("see javascript:alert(1) and <script>x</script>", "text/plain"))
    assert to_text("a < b and c > d", "text/plain") == "a < b and c > d"


def test_rss_fixture_normalised():
    doc = parse("rss20_basic.xml", feed=WIRE)
    assert doc.entries == 3 and not doc.dead_letters
    first, second, third = doc.articles
    assert first.id == first.url == "https://wire.example.org/world/troops-trains?id=7"
    assert first.published == datetime(2024, 10, 18, 0, 0, tzinfo=UTC) and not first.published_inferred
    assert first.text == "Intelligence officials said on Friday that soldiers were moved."
    assert first.outlet == "Test Wire Outlet" and first.feed_id == "wire" and first.language == "en"
    assert first.guid == "wire-0001" and first.fetched_at == NOW and first.origin == "rss20_basic.xml"
    assert second.title == "Statement on cooperation" and "statement" in second.text
    for article in doc.articles:
        assert is_clean(article.title) and is_clean(article.text)
    assert third.published == datetime(2024, 10, 19, 23, 0, tzinfo=UTC)  # naive → Asia/Seoul


def test_atom_fixture_inferred_date_guid_id_and_declared_language():
    doc = parse("atom_basic.xml")
    dated, undated = doc.articles
    assert dated.published == datetime(2024, 10, 18, 1, 0, tzinfo=UTC) and dated.language == "ko"
    assert undated.published == NOW and undated.published_inferred
    assert undated.url is None and undated.id == "guid:https://ko.example.org/:item-without-link"
    assert undated.outlet == "테스트 통신"


def test_language_is_detected_when_not_declared():
    body = ('<rss version="2.0"><channel><title>x</title><item><title>Новости</title><link>https://r.example/1</link>'
            '<description>Северная Корея направила войска в Курскую область, сообщили представители '
            'разведки.</description></item></channel></rss>').encode()
    doc = parse_document(body, ref="ru", fetched_at=NOW)
    assert doc.articles[0].language == "ru"


def test_dates_in_many_forms():
    seoul = WIRE.tzinfo
    assert parse_date("Fri, 18 Oct 2024 09:00:00 +0900", None, None) == datetime(2024, 10, 18, tzinfo=UTC)
    assert parse_date("2024-10-18T09:00:00Z", None, seoul) == datetime(2024, 10, 18, 9, tzinfo=UTC)
    assert parse_date("2024-10-18 09:00:00", None, seoul) == datetime(2024, 10, 18, 0, tzinfo=UTC)
    assert parse_date("Fri, 18 Oct 2024 09:00:00 KST", None, seoul) == datetime(2024, 10, 18, tzinfo=UTC)
    assert parse_date("garbage", None, None) is None


def test_future_dates_are_replaced_by_the_fetch_time():
    body = (b'<rss version="2.0"><channel><title>x</title><item><title>t</title><link>https://f.example/1</link>'
            b"<pubDate>Fri, 18 Oct 2099 09:00:00 GMT</pubDate></item></channel></rss>")
    article = parse_document(body, ref="f", fetched_at=NOW).articles[0]
    assert article.published == NOW and article.published_inferred


def test_json_feed():
    doc = parse("feed.json")
    assert doc.format == "json1" and len(doc.articles) == 2
    assert doc.articles[0].id == "https://json.example.org/a" and doc.articles[0].text == "Body text"


def test_ill_formed_document_keeps_its_entries():
    doc = parse("illformed_partial.xml")
    assert doc.reasons == ["ill_formed"] and len(doc.articles) == 2
    assert doc.dead_letters[0].payload_ref == "illformed_partial.xml" and doc.dead_letters[0].stage == "parse"


def test_not_a_feed_and_empty_and_binary_bodies():
    assert parse("not_a_feed.html").reasons == ["not_a_feed"]
    assert parse_document(b"", ref="e", fetched_at=NOW).reasons == ["not_a_feed"]
    noise = bytes(range(256)) * 64
    doc = parse_document(noise, ref="n", fetched_at=NOW)
    assert doc.dead_letters and not doc.articles


def test_bogus_encoding_is_a_dead_letter_and_entries_are_kept():
    body = ('<?xml version="1.0" encoding="bogus-8"?><rss version="2.0"><channel><title>x</title><item>'
            '<title>Caf\u00e9</title><link>https://enc.example/1</link></item></channel></rss>').encode("utf-8")
    doc = parse_document(body, ref="enc", fetched_at=NOW)
    assert "encoding" in doc.reasons and len(doc.articles) == 1


def test_huge_document_is_refused_without_parsing():
    started = time.monotonic()
    doc = parse_document(b"<rss>" + b" " * MAX_DOCUMENT_BYTES + b"</rss>", ref="huge", fetched_at=NOW)
    assert doc.reasons == ["oversize"] and time.monotonic() - started < 2


def test_entity_expansion_is_refused_quickly():
    started = time.monotonic()
    doc = parse("billion_laughs.xml")
    assert time.monotonic() - started < 2
    assert "entity_expansion" in doc.reasons and len(doc.articles) == 1
    assert len(doc.articles[0].title) < 100


def test_external_entities_never_read_a_local_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7731")
    data = (FIXTURES / "xxe_template.xml").read_text().replace("SECRET_PATH", str(secret)).encode()
    opened: list[str] = []
    sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" and args else None)
    doc = parse_document(data, ref="xxe", fetched_at=NOW)
    assert not any("secret.txt" in path for path in opened)
    assert "external_entity" in doc.reasons and len(doc.articles) == 2
    assert all("TOP-SECRET" not in a.title + a.text for a in doc.articles)
    # the same document in UTF-16 is screened as well
    doc16 = parse_document(data.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
                           .encode("utf-16"), ref="xxe16", fetched_at=NOW)
    assert "external_entity" in doc16.reasons and all("TOP-SECRET" not in a.text for a in doc16.articles)
    assert not any("secret.txt" in path for path in opened)


def test_feedparser_is_never_handed_a_path():
    doc = parse_document(b"/etc/passwd", ref="p", fetched_at=NOW)
    assert doc.reasons == ["not_a_feed"] and "root:" not in (doc.dead_letters[0].payload or "")
