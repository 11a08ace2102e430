"""The README's stage table and Layout section name files that exist, and every pipeline module is named."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _stage_rows() -> dict[str, list[str]]:
    rows = {}
    for line in README.splitlines():
        m = re.match(r"\| (\w+) \| (.+?) \| .+ \|$", line)
        if m and m.group(1) != "stage":
            rows[m.group(1)] = re.findall(r"`([^`]+)`", m.group(2))
    return rows


def _layout() -> str:
    section = README.split("## Layout", 1)[1]
    return section.split("```")[1]


def test_every_stage_of_the_diagram_has_a_module_named_after_it():
    rows = _stage_rows()
    assert {"poll", "fetch", "extract", "enrich", "index"} <= set(rows)
    for stage in ("fetch", "extract", "enrich", "index"):
        assert f"pipelines/{stage}.py" in rows[stage], stage
        assert (ROOT / "newswatch" / "pipelines" / f"{stage}.py").is_file()
    for stage, paths in rows.items():
        for path in paths:
            assert (ROOT / "newswatch" / path).exists(), f"{stage}: {path} named in the README does not exist"


def test_layout_names_every_package_and_pipeline_module():
    layout = _layout()
    packages = {p.name for p in (ROOT / "newswatch").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    for name in packages:
        assert f"{name}/" in layout, f"newswatch/{name}/ is missing from the README's Layout"
    pipelines = layout.split("pipelines/", 1)[1].split("flows/", 1)[0]
    modules = {p.stem for p in (ROOT / "newswatch" / "pipelines").glob("*.py") if not p.stem.startswith("_")}
    missing = {m for m in modules if not re.search(rf"\b{m}\b", pipelines)}
    assert not missing, f"pipeline modules the Layout does not name: {sorted(missing)}"
