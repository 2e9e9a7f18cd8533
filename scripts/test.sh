#!/usr/bin/env bash
# Install tblog with its test dependencies into .venv and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch==2.13.0 is the CPU build; the differential tests compare against torch's writer.
.venv/bin/python -m pip install --quiet -e ".[test,test-remote]" "torch==2.13.0"
.venv/bin/ruff check src tests benchmarks examples scripts
.venv/bin/python -m pytest -q "$@"
