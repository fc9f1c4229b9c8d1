#!/usr/bin/env bash
# The main job: set up, then run the SciFact matrix (eval/scifact.yaml: BM25 flat and multifield, MiniLM dense,
# hybrid, RRF) and print its table beside the published figures. Indexes and runs are kept in work/scifact, so a
# rerun is quick; extra arguments go to the runner (e.g. --only bm25-flat minilm).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${PYSERINI_DR_DATA:-}" ] && [ -d ../shared/data ]; then export PYSERINI_DR_DATA=$(cd ../shared/data && pwd); fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "${PYSERINI_DR_VENV:-.venv}/bin/python" -m pyserini_dr.eval.reproduce eval/scifact.yaml --work work/scifact "$@"
