"""A run's entries reach the Beam workers through JSON-lines files in the staging directory."""
from __future__ import annotations

from pathlib import Path

from newswatch.pipelines.runner import ENTRIES_PER_FILE, read_entries, stage_entries, unstage
from newswatch.settings import Settings


def test_entries_round_trip_through_staged_files_in_order(tmp_path):
    settings = Settings(home=tmp_path / "home", staging_dir=str(tmp_path / "stage"))
    entries = [{"id": f"s{i}", "link": f"https://example.com/{i}", "title": "Ташкент ✓ \"quoted\"\nline",
                "feeds": ["https://example.com/feed"], "published_at": None} for i in range(2 * ENTRIES_PER_FILE + 1)]
    paths = stage_entries(entries, settings)
    assert len(paths) == 3 and all(Path(p).parent == tmp_path / "stage" for p in paths)
    assert [e for p in paths for e in read_entries(p)] == entries
    unstage(paths)
    assert list((tmp_path / "stage").iterdir()) == []
    assert not (tmp_path / "home" / "staging").exists()


def test_default_staging_directory_is_under_home(tmp_path):
    settings = Settings(home=tmp_path)
    (path,) = stage_entries([{"id": "x"}], settings)
    assert Path(path).parent == tmp_path / "staging" == Path(settings.effective_staging_dir)
    unstage([path])
    unstage([path])  # already gone: logged, not raised
