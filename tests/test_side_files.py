"""Side files without an event writer (tracking's config, state and summary files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tblog import _storage

pytest.importorskip("fsspec")


@pytest.mark.parametrize("where", ["local", "memory"])
def test_write_and_read_side_files(tmp_path: Path, where: str) -> None:
    logdir = str(tmp_path / "run") if where == "local" else "memory://side-files/run"
    assert _storage.read_side_file(logdir, "config.json") is None
    _storage.write_side_file(logdir, "config.json", b"{}")
    _storage.write_side_file(logdir, "files/model/w.bin", b"\x00\x01")
    assert _storage.read_side_file(logdir, "config.json") == b"{}"
    assert _storage.read_side_file(logdir, "files/model/w.bin") == b"\x00\x01"
    if where == "local":
        assert sorted(p.name for p in (tmp_path / "run").rglob("*") if p.is_file()) == [
            "config.json", "w.bin"]  # no temporary file left behind
    for bad in ("../x", "/abs", "a/../../b", "x\0y"):
        with pytest.raises(ValueError):
            _storage.write_side_file(logdir, bad, b"no")
    with pytest.raises(TypeError, match="must be bytes"):
        _storage.write_side_file(logdir, "x", "text")  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()
