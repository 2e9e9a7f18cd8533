"""Finding a logdir's runs and event files (local or fsspec) and scanning each once.

A run is a directory holding files whose name contains ``tfevents`` (not
``*.profile-empty``), named by its path relative to the logdir (``"."`` for the
logdir itself), as TensorBoard names runs. Files of a run are read in name order,
which is also the order of tblog's remote segments (``...<n>.<seq:06d>``), so a
series of segments reads as one file.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import pickle
import posixpath
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from tblog._storage import filesystem, url_protocol
from tblog.reader._scan import FileScan, scan

#: Local logdirs bigger than this (in several files) are scanned by worker processes.
PARALLEL_BYTES = 96 << 20


@dataclasses.dataclass
class Source:
    """One event file: its run, path (local, or within the fsspec filesystem) and size."""

    run: str
    path: str
    size: int
    mtime: float | None = None


def is_event_file(name: str) -> bool:
    """Whether TensorBoard reads a file of this base name."""
    return "tfevents" in name and not name.endswith(".profile-empty")


_SEGMENT_NAME = re.compile(r"^(.*tfevents\.\d+\..+\.\d+\.\d+)\.\d{6}(.*?)$")


def series_name(name: str) -> str:
    """A file's base name less tblog's segment number: segments of one writer
    (``...tfevents.<time>.<host>.<pid>.<n>.<seq:06d><suffix>``) share it."""
    match = _SEGMENT_NAME.match(name)
    return match.group(1) + match.group(2) if match else name


def discover(logdir: str | os.PathLike[str]) -> tuple[list[Source], Any]:
    """Every event file under ``logdir``, by run then name; and the fsspec
    filesystem (None for a local logdir).

    Raises:
        FileNotFoundError: ``logdir`` does not exist.
    """
    text = os.fspath(logdir)
    protocol = url_protocol(text)
    if protocol is None or protocol == "file":
        path = text[len("file://"):] if protocol == "file" else text
        return _discover_local(path), None
    fs, root = filesystem(text)
    root = root.rstrip("/")
    if not fs.exists(root):
        raise FileNotFoundError(f"logdir {text!r} does not exist")
    if fs.isfile(root):
        info = fs.info(root)
        return [Source(".", root, int(info.get("size") or 0), _mtime(info))], fs
    found = fs.find(root, detail=True)
    sources = []
    for path, info in found.items():
        name = posixpath.basename(path)
        if not is_event_file(name) or info.get("type") == "directory":
            continue
        run = posixpath.relpath(posixpath.dirname(path), root) if root else posixpath.dirname(path)
        sources.append(Source(run, path, int(info.get("size") or 0), _mtime(info)))
    sources.sort(key=lambda s: (s.run, posixpath.basename(s.path)))
    return sources, fs


def _mtime(info: dict[str, Any]) -> float | None:
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        timestamp = getattr(value, "timestamp", None)
        if timestamp is not None:
            return float(timestamp())
    return None


def _discover_local(path: str) -> list[Source]:
    if os.path.isfile(path):
        stat = os.stat(path)
        return [Source(".", path, stat.st_size, stat.st_mtime)]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"logdir {path!r} does not exist")
    sources = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        run = os.path.relpath(dirpath, path).replace(os.sep, "/")
        for name in sorted(filenames):
            if not is_event_file(name):
                continue
            full = os.path.join(dirpath, name)
            try:
                stat = os.stat(full)
            except OSError:
                continue
            sources.append(Source(run, full, stat.st_size, stat.st_mtime))
    sources.sort(key=lambda s: (s.run, os.path.basename(s.path)))
    return sources


def _scan_local(path: str, check_crc: bool) -> FileScan:
    with open(path, "rb") as f:
        return scan(f.read(), path, check_crc)


def run_worker(jobs: list[tuple[str, bytes | None]], check_crc: bool) -> list[FileScan]:
    """Scan files in a fresh ``python -m tblog.reader._worker`` process.

    Args:
        jobs: ``(path, bytes)`` per file; bytes None reads the local file there.
        check_crc: check the records' CRCs.

    Raises:
        RuntimeError: the worker failed (its stderr is in the message).
    """
    import tblog

    root = os.path.dirname(os.path.dirname(os.path.abspath(tblog.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "tblog.reader._worker"],
        input=pickle.dumps((jobs, check_crc)), capture_output=True, env=env, check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"tblog.read worker failed (exit {done.returncode}): {tail}")
    return pickle.loads(done.stdout)  # noqa: S301 - our own child's output


def scan_all(
    sources: list[Source],
    fs: Any,
    check_crc: bool,
    workers: int | None,
    progress: Callable[[int], None] | None = None,
) -> list[FileScan]:
    """Scan every source once, in parallel where that pays; same order as ``sources``.

    Remote objects are fetched together (``fs.cat``, concurrent on async
    backends), each exactly once.
    """
    total = sum(s.size for s in sources)
    if workers is None:
        workers = min(len(sources), os.cpu_count() or 1, 8) if total >= PARALLEL_BYTES else 1
    results: list[FileScan | None] = [None] * len(sources)
    data: list[bytes | None] = [None] * len(sources)
    if fs is not None:
        blobs = fs.cat([s.path for s in sources]) if sources else {}
        for i, source in enumerate(sources):
            blob = blobs.get(source.path)
            if isinstance(blob, Exception):
                raise blob
            data[i] = blob or b""
    if workers > 1 and len(sources) > 1:
        shares: list[list[int]] = [[] for _ in range(min(workers, len(sources)))]
        loads = [0] * len(shares)
        for i in sorted(range(len(sources)), key=lambda i: -sources[i].size):
            j = loads.index(min(loads))  # biggest files first, to the least loaded worker
            shares[j].append(i)
            loads[j] += sources[i].size
        with concurrent.futures.ThreadPoolExecutor(len(shares)) as pool:
            futures = {
                pool.submit(run_worker, [(sources[i].path, data[i]) for i in share], check_crc):
                    share
                for share in shares
            }
            for future in concurrent.futures.as_completed(futures):
                share = futures[future]
                for i, result in zip(share, future.result(), strict=True):
                    results[i] = result
                if progress:
                    progress(sum(sources[i].size for i in share))
    else:
        for i, source in enumerate(sources):
            blob = data[i]
            results[i] = (_scan_local(source.path, check_crc) if blob is None
                          else scan(blob, source.path, check_crc))
            data[i] = None
            if progress:
                progress(source.size)
    return [r for r in results if r is not None]
