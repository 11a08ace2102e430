"""The disk cache of derived lookup tables: reused while the sources are unchanged, rebuilt otherwise."""
from __future__ import annotations

from newswatch.extraction import _cache


def test_built_once_then_read_back_rebuilt_when_the_key_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("NEWSWATCH_NO_CACHE", raising=False)
    builds = []

    def build():
        builds.append(1)
        return {"table": list(range(5))}

    assert _cache.cached("t", lambda: "k1", build) == {"table": [0, 1, 2, 3, 4]}
    assert _cache.cached("t", lambda: "k1", build) == {"table": [0, 1, 2, 3, 4]}
    assert len(builds) == 1
    _cache.cached("t", lambda: "k2", build)
    assert len(builds) == 2
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["t-k2.pickle"]  # the stale table is gone


def test_a_corrupt_file_or_an_unwritable_directory_falls_back_to_building(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSWATCH_HOME", str(tmp_path))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "t-k.pickle").write_bytes(b"not a pickle")
    assert _cache.cached("t", lambda: "k", lambda: 42) == 42
    assert _cache.cached("t", lambda: "k", lambda: 0) == 42  # rewritten, now read back
    blocked = tmp_path / "file"
    blocked.write_text("x")
    monkeypatch.setenv("NEWSWATCH_HOME", str(blocked))  # cache dir cannot be created under a file
    assert _cache.cached("t", lambda: "k", lambda: 7) == 7


def test_the_cache_can_be_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSWATCH_HOME", str(tmp_path))
    monkeypatch.setenv("NEWSWATCH_NO_CACHE", "1")
    assert _cache.cached("t", lambda: "k", lambda: 1) == 1
    assert not (tmp_path / "cache").exists()


def test_fingerprint_follows_content_and_extras(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("x: 1")
    first = _cache.fingerprint([a], "v1")
    assert _cache.fingerprint([a], "v1") == first
    assert _cache.fingerprint([a], "v2") != first
    a.write_text("x: 2")
    assert _cache.fingerprint([a], "v1") != first
