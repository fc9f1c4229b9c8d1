#!/usr/bin/env bash
# The main job: set up, then reproduce the SciFact table (BM25 flat and multifield, MiniLM dense, hybrid)
# beside Pyserini's published figures. Indexes and runs are kept in work/ so a rerun is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${PYSERINI_DR_DATA:-}" ] && [ -d ../shared/data ]; then export PYSERINI_DR_DATA=$(cd ../shared/data && pwd); fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "${PYSERINI_DR_VENV:-.venv}/bin/python" -m pyserini_dr.eval.scifact --work work/scifact "$@"
