"""MkDocs hook (mkdocs.yml `hooks:`): every name tblog exports has an API reference page.

`tblog/__init__.py`'s ``__all__`` is read with ``ast`` (nothing is imported); each name
but ``__version__`` must appear as ``::: tblog.NAME`` (or ``::: tblog.module.NAME``, for
names the package provides lazily) in some ``docs/reference/*.md``, or, for a name
described in prose, ``<!-- reference: NAME -->``.
A missing one is logged as a warning, which ``mkdocs build --strict`` turns into a
failed build, so an export added on main cannot go undocumented.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

log = logging.getLogger("mkdocs.plugins.tblog")

ROOT = Path(__file__).resolve().parent.parent


def exported_names() -> list[str]:
    tree = ast.parse((ROOT / "src/tblog/__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return [n for n in ast.literal_eval(node.value) if not n.startswith("__")]
    return []


def on_pre_build(config, **kwargs) -> None:  # noqa: ARG001 (mkdocs' signature)
    reference = Path(config["docs_dir"]) / "reference"
    documented = set()
    for page in reference.glob("*.md"):
        documented.update(
            # ::: tblog.NAME, or the module that defines it: ::: tblog.tracking.NAME
            re.findall(r"^::: tblog\.(?:[\w.]+\.)?(\w+)\s*$", page.read_text(encoding="utf-8"),
                       re.M)
        )
        # A name described in prose rather than by mkdocstrings: <!-- reference: NAME -->
        documented.update(
            re.findall(r"<!-- reference: (\w+) -->", page.read_text(encoding="utf-8"))
        )
    for name in exported_names():
        if name not in documented:
            log.warning(
                "tblog.%s is exported by tblog/__init__.py but no docs/reference/*.md "
                "page has '::: tblog.%s' (see docs/reference/index.md)",
                name,
                name,
            )
