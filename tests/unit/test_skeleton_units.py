"""Plain unit tests of pure pieces: URL canonicalisation, mapping generation, address policy, feed parsing."""
from __future__ import annotations

import pytest

from newswatch.connectors.feeds import canonicalize, load_feed_list, parse_feed, read_fast, story_id
from newswatch.connectors.http import AddressPolicy
from newswatch.schemas.mapping import story_mappings, stories_template
from newswatch.schemas.story import Story
from newswatch.settings import Settings


def test_tracking_parameters_do_not_change_the_story_id():
    a = canonicalize("https://News.example.com/a/story.html?utm_source=rss&utm_medium=feed")
    b = canonicalize("https://news.example.com/a/story.html")
    assert a == b == "https://news.example.com/a/story.html"
    assert story_id(a) == story_id(b)
    assert story_id(canonicalize("https://news.example.com/a/story.html?id=2")) != story_id(a)


def test_every_story_field_is_mapped_and_finance_is_nested():
    props = story_mappings()["properties"]
    assert set(props) == set(Story.model_fields)
    assert props["finance"]["type"] == "nested"
    assert props["finance"]["properties"]["usd"]["type"] == "double"
    assert props["finance"]["properties"]["currency"]["type"] == "keyword"
    assert props["entities"]["type"] == "nested"
    assert props["published_at"]["type"] == "date"
    assert props["countries"]["type"] == "keyword"
    assert props["title"]["fields"]["keyword"]["type"] == "keyword"
    assert props["text"]["type"] == "text"
    assert stories_template("nw")["index_patterns"] == ["nw-stories-*"]


def test_stories_refresh_interval_follows_the_setting():
    from newswatch.settings import Settings

    assert stories_template("nw")["template"]["settings"]["refresh_interval"] == Settings().es_refresh_interval
    assert stories_template("nw", "5s")["template"]["settings"]["refresh_interval"] == "5s"
    assert Settings.from_env().es_refresh_interval == "30s"


@pytest.mark.parametrize("ip, allowed", [
    ("8.8.8.8", True), ("169.254.169.254", False), ("127.0.0.1", False), ("10.1.2.3", False),
    ("192.168.0.10", False), ("172.16.5.4", False), ("::1", False), ("fe80::1", False),
    ("::ffff:169.254.169.254", False), ("0.0.0.0", False), ("224.0.0.1", False), ("100.64.0.1", False),
])
def test_default_policy_refuses_internal_addresses(ip, allowed):
    assert (AddressPolicy().check(ip) is None) is allowed


def test_loopback_can_be_allowed_but_metadata_never():
    policy = AddressPolicy(allow_loopback=True)
    assert policy.check("127.0.0.1") is None
    assert policy.check("10.0.0.1") is not None
    assert AddressPolicy(allow_private=True, allow_loopback=True).check("169.254.169.254") is not None


def test_entity_bomb_is_rejected_without_expansion(fixtures_dir):
    body = (fixtures_dir / "feeds" / "entity-bomb.rss.xml").read_bytes()
    result = parse_feed(body, "http://x/feed")
    assert result.status == "error" and result.error_kind == "unsafe_xml"
    assert not result.entries


def test_truncated_feed_is_an_error_but_salvaged_links_are_kept(fixtures_dir):
    body = (fixtures_dir / "feeds" / "truncated.rss.xml").read_bytes().replace(b"{{BASE_URL}}", b"http://h")
    result = parse_feed(body, "http://x/feed")
    assert result.status == "error" and result.error_kind == "malformed_feed"
    assert result.entries, "the links before the break are salvaged"
    assert all(e.link.startswith("http://h/") for e in result.entries)


def test_well_formed_feeds_are_read_by_the_fast_parser_with_feedparser_s_result(fixtures_dir):
    from pathlib import Path

    import newswatch

    sample = Path(newswatch.__file__).parent / "data" / "sample" / "feeds"
    paths = sorted((fixtures_dir / "feeds").glob("*.xml")) + sorted(sample.glob("*.xml"))
    taken = []
    for path in paths:
        body = path.read_bytes().replace(b"{{BASE_URL}}", b"http://h")
        fast, slow = parse_feed(body, "http://x/feed"), parse_feed(body, "http://x/feed", fast=False)
        assert fast == slow, path.name
        if read_fast(body):
            taken.append(path.name)
            assert fast.status == "ok" and fast.entries and fast.title
    # the four well-formed feeds; the truncated one and the entity bomb are feedparser's (or nobody's)
    assert sorted(taken) == sorted(p.name for p in paths if "truncated" not in p.name and "bomb" not in p.name)
    assert len(taken) == 4


def test_the_fast_parser_leaves_what_it_would_read_differently_to_feedparser():
    entry = "<item><title>a</title><link>https://example.com/a</link><pubDate>Tue, 12 Mar 2024 03:00:00 GMT</pubDate>"
    ok = f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>{entry}</item>'
    assert read_fast(f"{ok}</channel></rss>".encode())
    result = parse_feed(f"{ok}</channel></rss>".encode(), "http://x/feed")
    assert [(e.link, e.title, e.published_at) for e in result.entries] == [
        ("https://example.com/a", "a", "2024-03-12T03:00:00+00:00")]
    rss_author = ok.replace("<title>a", "<author>ed@example.com (Ed)</author><title>a")  # both: the element's text
    assert read_fast(f"{rss_author}</channel></rss>".encode())
    no_link = "<item><title>b</title><guid>https://example.com/b</guid></item>"  # feedparser: the GUID is the link
    other_charset = ok.replace("UTF-8", "ISO-8859-1")
    untitled = ok.replace("<channel><title>t</title>", "<channel>")
    atom = ('<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>a</title>'
            '<link href="https://example.com/a"/><author><name>Ed</name>{}</author></entry></feed>')
    assert read_fast(atom.format("").encode())
    atom_e_mail = atom.format("<email>ed@example.com</email>")  # feedparser: "Ed (ed@example.com)"
    atom_enclosure = atom.format("").replace("<link ", '<link rel="enclosure" ')  # feedparser: no link
    for body in (f"{ok}{no_link}</channel></rss>", f"{other_charset}</channel></rss>", f"{untitled}</channel></rss>",
                 f"{ok}</channel>", atom_e_mail, atom_enclosure, f"{rss_author}</channel></rss>", atom.format("")):
        if body not in (f"{rss_author}</channel></rss>", atom.format("")):
            assert not read_fast(body.encode()), body
        assert parse_feed(body.encode(), "http://x/feed") == parse_feed(body.encode(), "http://x/feed", fast=False)
    assert not read_fast(f"{ok}</channel></rss>".encode("utf-16"))


def test_html_is_not_a_feed():
    result = parse_feed(b"<!doctype html><html><body><p>hello</p></body></html>", "http://x/")
    assert result.status == "error"
    assert result.error_kind in ("not_a_feed", "malformed_feed")


def test_entries_without_http_links_are_rejected():
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>a</title><link>javascript:alert(1)</link></item>
    <item><title>b</title><link>file:///etc/passwd</link></item>
    <item><title>c</title></item>
    <item><title>d</title><link>https://example.com/d</link></item>
    <item><title>d again</title><link>https://example.com/d?utm_source=x</link></item>
    </channel></rss>"""
    result = parse_feed(rss, "http://x/feed")
    assert result.status == "ok"
    assert [e.link for e in result.entries] == ["https://example.com/d"]
    assert len(result.rejected_entries) == 3


def test_feed_list_formats(tmp_path):
    (tmp_path / "f.txt").write_text("# comment\nhttps://a.example/feed\n\nhttps://b.example/rss  # trailing\n")
    assert [f.url for f in load_feed_list(tmp_path / "f.txt")] == ["https://a.example/feed", "https://b.example/rss"]
    (tmp_path / "f.yaml").write_text("feeds:\n  - url: https://a.example/feed\n    name: A\n  - https://b.example/rss\n")
    specs = load_feed_list(tmp_path / "f.yaml")
    assert [(f.url, f.name) for f in specs] == [("https://a.example/feed", "A"), ("https://b.example/rss", None)]


def test_settings_never_show_secrets(monkeypatch):
    monkeypatch.setenv("ES_API_KEY", "s3cr3t-key")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    s = Settings.from_env()
    assert "s3cr3t-key" not in repr(s) and "hunter2" not in repr(s)
    assert "es_api_key" not in s.public() and "smtp_password" not in s.public()
    with pytest.raises(ValueError):
        Settings.from_public({"es_password": "x"})
    assert Settings.from_public({"index_prefix": "abc"}).es_api_key == "s3cr3t-key"
