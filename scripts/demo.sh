#!/usr/bin/env bash
# Install tblog with its optional extras into .venv and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[all]" tensorboard "torch==2.13.0"
.venv/bin/python examples/demo.py "$@"
