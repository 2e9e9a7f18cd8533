"""The docs' gallery: examples/gallery.py still runs, and pages, code and screenshots agree.

The screenshots themselves are made by ``scripts/screenshots.py`` at release time
(stock TensorBoard + Chromium); here each gallery function is run and read back with
TensorBoard's own accumulator, so a change of the API that breaks the code a gallery
page shows fails the suite, not the next release.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from tbutil import accumulate

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


gallery = _load("gallery", ROOT / "examples" / "gallery.py")
screenshots = _load("screenshots", ROOT / "scripts" / "screenshots.py")

# What TensorBoard's accumulator must find for each kind: plugin names with tags.
PLUGINS = {
    "scalars": {"scalars"},
    "histograms": {"histograms"},
    "images": {"images"},
    "figures": {"images"},
    "video": {"images"},
    "audio": {"audio"},
    "text": {"text"},
    "graph": set(),  # checked through the graph itself
    "projector": set(),  # side files, checked below
    "pr_curves": {"pr_curves"},
    "custom_scalars": {"custom_scalars", "scalars"},
    "mesh": {"mesh"},
    "hparams": {"hparams", "scalars"},
    "tracking": {"hparams", "scalars", "text"},  # config and summary, curves, the table
}


def test_every_kind_is_covered() -> None:
    assert set(PLUGINS) == set(gallery.KINDS)
    assert {shot.kind for shot in screenshots.SHOTS} == set(gallery.KINDS)


@pytest.mark.parametrize("kind", sorted(gallery.KINDS))
def test_gallery_function_logs_its_kind(kind: str, logdir: Path) -> None:
    if kind == "graph":
        pytest.importorskip("torch")
    gallery.KINDS[kind](str(logdir / kind))
    runs = sorted({path.parent for path in (logdir / kind).rglob("*tfevents*")})
    assert runs, f"{kind}: no event file"
    found: set[str] = set()
    graphs = 0
    for run in runs:
        acc = accumulate(run)
        found.update(p for p in acc.ActivePlugins() if acc.PluginTagToContent(p))
        graphs += acc.Tags().get("graph", False)
    assert PLUGINS[kind] <= found, f"{kind}: plugins with data {sorted(found)}"
    if kind == "graph":
        assert graphs == 1
    if kind == "projector":
        config = (logdir / kind / "projector_config.pbtxt").read_text()
        assert "features:00000" in config
    if kind == "tracking":
        assert [run.name for run in runs] == ["lr=0.01", "lr=0.03", "lr=0.1"]
        for run in runs:
            acc = accumulate(run)
            scalars = set(acc.PluginTagToContent("scalars"))
            assert {"loss", "acc", "summary/best_acc"} <= scalars
            assert "predictions/text_summary" in acc.PluginTagToContent("text")
            assert (run / "summary.json").exists() and (run / "config.yaml").exists()
            assert list((run / "tables" / "predictions").glob("*.csv"))
        assert not (logdir / kind / "quickstart" / "lr=0.1" / "system").exists()


def test_pages_include_existing_sections_and_screenshots() -> None:
    source = (ROOT / "examples" / "gallery.py").read_text()
    sections = set(re.findall(r"# --8<-- \[start:(\w+)\]", source))
    assert set(gallery.KINDS) <= sections
    pages = {p.name: p.read_text() for p in (ROOT / "docs" / "gallery").glob("*.md")}
    included = {s for text in pages.values() for s in re.findall(r'gallery\.py:(\w+)"', text)}
    assert set(gallery.KINDS) <= included, "a kind without a gallery page"
    shown = {s for text in pages.values() for s in re.findall(r"images/(\w+)\.png", text)}
    for shot in screenshots.SHOTS:
        assert shot.name in shown, f"{shot.name}.png is on no gallery page"
        png = ROOT / "docs" / "images" / f"{shot.name}.png"
        assert png.stat().st_size < screenshots.MAX_PNG_BYTES
        assert png.read_bytes()[16:24] == (
            screenshots.WIDTH.to_bytes(4, "big") + screenshots.HEIGHT.to_bytes(4, "big")
        ), f"{png.name} is not {screenshots.WIDTH}x{screenshots.HEIGHT}"


def test_blank_screenshot_is_refused() -> None:
    image = pytest.importorskip("PIL.Image")
    import io

    buffer = io.BytesIO()
    image.new("RGB", (screenshots.WIDTH, screenshots.HEIGHT), "white").save(buffer, "PNG")
    with pytest.raises(screenshots.ScreenshotError, match="blank"):
        screenshots.checked_png(buffer.getvalue(), "white")
