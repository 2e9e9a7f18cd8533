"""Side files of a run (config, summary, tables, saved files, output.log): the one
place that writes them, and ``save()``'s copying.

Every side file goes through :func:`write_run_file`, which refuses relative paths
that would leave the run directory and stores the file through the run's storage
backend (``tblog._storage.write_side_file``: local files replaced atomically, or
one object on object storage), the same code as the projector's side files.
"""

from __future__ import annotations

import glob
import os
import posixpath

from tblog._storage import filesystem, read_side_file, url_protocol, write_side_file


def clean_relative(relative: str) -> str:
    """``relative`` as a normalized POSIX path inside the run directory.

    Raises:
        TypeError: ``relative`` is not a str.
        ValueError: it is empty, absolute, contains a NUL, or escapes the run
            directory (``..``).
    """
    if not isinstance(relative, str):
        raise TypeError(f"relative must be a str, got {type(relative).__name__}")
    text = relative.replace("\\", "/")
    if "\0" in text:
        raise ValueError(f"relative path {relative!r} contains a NUL character")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise ValueError(f"relative path {relative!r} is absolute; it must stay in the run dir")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        raise ValueError(
            f"relative path {relative!r} is empty or uses '..'; it must name a file in the run dir"
        )
    return "/".join(parts)


def _join(log_dir: str, relative: str) -> str:
    if url_protocol(log_dir):
        return posixpath.join(log_dir.rstrip("/"), relative)
    return os.path.join(log_dir, *relative.split("/"))


def write_run_file(log_dir: str, relative: str, data: bytes) -> str:
    """Write ``data`` as ``{log_dir}/{relative}``, replacing any earlier content.

    Local files are replaced atomically (a reader never sees half a file).

    Args:
        log_dir: the run directory, a local path or a ``scheme://`` URL.
        relative: the file's path inside the run directory (``/``-separated).
        data: the file's bytes.

    Returns:
        The full path or URL written.

    Raises:
        ValueError: ``relative`` would leave the run directory.
        TypeError: ``data`` is not bytes.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    relative = clean_relative(relative)
    write_side_file(log_dir, relative, bytes(data))  # the storage backend's side files
    return _join(log_dir, relative)


def read_run_file(log_dir: str, relative: str) -> bytes | None:
    """The bytes of ``{log_dir}/{relative}``, or None when there is no such file."""
    return read_side_file(log_dir, clean_relative(relative))


def sibling_files(log_dir: str, name: str) -> list[bytes]:
    """The ``name`` file of every other run next to ``log_dir`` (its project)."""
    found = []
    if url_protocol(log_dir):
        parent = posixpath.dirname(log_dir.rstrip("/"))
        fs, path = filesystem(parent)
        own = posixpath.basename(log_dir.rstrip("/"))
        for match in sorted(fs.glob(posixpath.join(path, "*", name))):
            if posixpath.basename(posixpath.dirname(match)) != own:
                try:
                    found.append(fs.cat_file(match))
                except (OSError, FileNotFoundError):
                    continue
        return found
    parent = os.path.dirname(os.path.abspath(log_dir))
    own = os.path.basename(os.path.abspath(log_dir))
    try:
        entries = sorted(os.listdir(parent))
    except OSError:
        return found
    for entry in entries:
        if entry == own:
            continue
        try:
            with open(os.path.join(parent, entry, name), "rb") as file:
                found.append(file.read())
        except OSError:
            continue
    return found


def _glob_base(pattern: str) -> str:
    """The directory part of ``pattern`` before its first wildcard."""
    head = pattern
    while glob.has_magic(head):
        head = os.path.dirname(head)
    if head == pattern:  # a plain path: its directory
        head = os.path.dirname(pattern)
    return head or "."


def matching_files(pattern: str, base_path: str | None) -> list[tuple[str, str]]:
    """``[(local file, path under files/)]`` for ``save(pattern, base_path)``.

    Raises:
        TypeError: ``pattern`` is not a str or path.
        ValueError: a match lies outside ``base_path``.
    """
    if not isinstance(pattern, (str, os.PathLike)):
        raise TypeError(f"glob_str must be a str or path, got {type(pattern).__name__}")
    pattern = os.fspath(pattern)
    base = os.path.abspath(base_path if base_path is not None else _glob_base(pattern))
    found = []
    for match in sorted(glob.glob(pattern, recursive=True)):
        if not os.path.isfile(match):
            continue
        relative = os.path.relpath(os.path.abspath(match), base)
        if relative.split(os.sep)[0] == "..":
            raise ValueError(
                f"save({pattern!r}): {match!r} is not under base_path {base_path or base!r}"
            )
        found.append((match, "files/" + relative.replace(os.sep, "/")))
    return found


def copy_files(log_dir: str, matches: list[tuple[str, str]]) -> list[str]:
    """Copy ``(local file, relative path)`` pairs into the run; the relative paths."""
    done = []
    for source, relative in matches:
        with open(source, "rb") as file:
            write_run_file(log_dir, relative, file.read())
        done.append(relative)
    return done
