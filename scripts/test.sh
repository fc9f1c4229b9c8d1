#!/usr/bin/env bash
# Set up (if needed) and run the test suite, offline. Larger checks read the shared data mirror
# ($PYSERINI_DR_DATA, default ../shared/data) and skip with a reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${PYSERINI_DR_DATA:-}" ] && [ -d ../shared/data ]; then export PYSERINI_DR_DATA=$(cd ../shared/data && pwd); fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYSERINI_DR_QUIET=1
exec "${PYSERINI_DR_VENV:-.venv}/bin/python" -m pytest -q -rs "$@" tests
