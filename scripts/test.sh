#!/usr/bin/env bash
# Install tblog with its test dependencies into .venv and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch==2.13.0 is the CPU build; the differential tests compare against torch's writer.
.venv/bin/python -m pip install --quiet -e ".[test,test-remote]" "torch==2.13.0"
# Azurite (az:// tests) comes from npm; without npm those tests skip with the reason.
if command -v npm >/dev/null 2>&1; then
    npm install --silent --no-audit --no-fund --prefix .venv/azurite azurite >/dev/null 2>&1 \
        && export AZURITE_HOME="$PWD/.venv/azurite" \
        || echo "npm install azurite failed: az:// tests will be skipped"
fi
.venv/bin/ruff check src tests benchmarks examples scripts
.venv/bin/python -m pytest -q "$@"
