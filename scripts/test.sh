#!/usr/bin/env bash
# The README's test command: set up, then run the whole suite (exit code 5, no tests, fails too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export YOLO_OFFLINE=1
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
