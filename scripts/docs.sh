#!/usr/bin/env bash
# Build the documentation site into site/ with `mkdocs build --strict`: any warning
# (a broken link or anchor, a page missing from the nav, a docstring mkdocstrings
# cannot parse, an exported name without a reference page) fails the build.
# Offline: only links inside the site are checked, nothing is fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet -e ".[docs]"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict "$@"
