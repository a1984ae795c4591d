#!/usr/bin/env bash
# Every check Twinsight's CI runs: lint, types, the layer rule, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== ruff"; $BIN/ruff check src tests bench
echo "== ruff format"; $BIN/ruff format --check src tests bench
echo "== mypy"; $BIN/mypy
echo "== import-linter (layer dependency rule)"; $BIN/lint-imports
[ "${1:-}" = "--lint-only" ] && exit 0
echo "== pytest"; $BIN/python -m pytest -n 2 -q --durations=15 "$@"
