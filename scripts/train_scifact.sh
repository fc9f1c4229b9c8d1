#!/usr/bin/env bash
# The training-I results on SciFact: warmup -> ANCE, STAR -> ADORE from all-MiniLM-L6-v2, then each model's
# test run. Needs a GPU for reasonable time; the table is made on a CPU machine by scripts/train_table.py.
#
# usage: MODEL=DIR TRAIN=DIR OUT=DIR [EPOCHS=10] [WARMUP_EPOCHS=10] [NEGATIVES=1] bash scripts/train_scifact.sh
#   TRAIN holds train.jsonl and dev.jsonl, made on the CPU machine with Lucene BM25 (see eval/training_scifact.md):
#   python -m pyserini_dr.train.negatives --topics beir-v1.0.0-scifact-train --qrels beir-v1.0.0-scifact-train \
#       --index indexes/scifact-flat --depth 30 --output train.jsonl --dev-fraction 0.1 --dev-output dev.jsonl
set -euo pipefail
: "${MODEL:?MODEL=the starting checkpoint}" "${TRAIN:?TRAIN=dir with train.jsonl and dev.jsonl}" "${OUT:?OUT=dir}"
EPOCHS=${EPOCHS:-10}; WARMUP_EPOCHS=${WARMUP_EPOCHS:-10}; NEGATIVES=${NEGATIVES:-1}
PY=${PYTHON:-python}
work=$OUT/work; mkdir -p "$work"
common=(--dataset beir-v1.0.0-scifact --train-data "$TRAIN/train.jsonl" --dev-data "$TRAIN/dev.jsonl" --bf16
        --batch-size 64 --lr 2e-5 --negatives "$NEGATIVES" --log-every 5)
source "$(dirname "$0")/train_steps.sh"

# per-recipe extra flags: WARMUP_FLAGS, ANCE_FLAGS, STAR_FLAGS, ADORE_FLAGS; STEPS picks a subset
STEPS=${STEPS:-warmup ance star adore}
for name in $STEPS; do
  case $name in
    warmup) train warmup warmup "$MODEL" "$WARMUP_EPOCHS" ${WARMUP_FLAGS:-} ;;
    ance)   train ance ance "$work/warmup/model" "$EPOCHS" ${ANCE_FLAGS:-} ;;
    star)   train star star "$work/warmup/model" "$EPOCHS" ${STAR_FLAGS:-} ;;
    adore)  train adore adore "$work/star/model" "$EPOCHS" ${ADORE_FLAGS:-} ;;
    *) echo "unknown step $name" >&2; exit 2 ;;
  esac
  search "$name"
done
for name in $STEPS; do
  tar -C "$work/$name" -czf "$OUT/$name.dev_runs.tgz" dev_runs 2>/dev/null || true
done
