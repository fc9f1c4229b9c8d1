#!/usr/bin/env bash
# CPU machine (Lucene, faiss): every input of scripts/train2_scifact.sh for SciFact, from MODEL (all-MiniLM-L6-v2).
# The teacher is the dense + BM25 ensemble (pyserini's hybrid interpolation, alpha tuned on the train topics by
# python -m pyserini_dr.search.hybrid.tune): python -m pyserini_dr.train.hybrid_teacher.
#
# usage: MODEL=DIR OUT=DIR bash scripts/distill_inputs_scifact.sh      knobs: ALPHA (0.04), SCALE (20 = 1 / 0.05)
# then, on the GPU:  MODEL=DIR TRAIN=OUT ... bash scripts/train2_scifact.sh  (eval/distillation_scifact.md)
set -euo pipefail
: "${MODEL:?MODEL=the starting checkpoint}" "${OUT:?OUT=dir for the inputs}"
PY=${PYTHON:-python}; ALPHA=${ALPHA:-0.04}; SCALE=${SCALE:-20}
ds=beir-v1.0.0-scifact; idx=$OUT/indexes
mkdir -p "$idx"
step() { echo "== $*"; "$PY" -m "$@" 2>&1 | { grep -v "it/s\]" || true; } | tail -1; }

ls "$idx/lucene"/segments_* >/dev/null 2>&1 || \
  step pyserini_dr.index.lucene --dataset $ds --index "$idx/lucene"
[ -f "$idx/dense/meta.json" ] || step pyserini_dr.encode --dataset $ds --encoder "$MODEL" --output "$idx/dense"
step pyserini_dr.train.negatives --topics $ds-train --qrels $ds-train --index "$idx/lucene" --depth 30 \
  --output "$OUT/train.jsonl" --dev-fraction 0.1 --dev-output "$OUT/dev.jsonl"
for split in train test; do
  step pyserini_dr.search.lucene --index "$idx/lucene" --topics $ds-$split --hits 100 --remove-query \
    --output "$OUT/bm25.$split.txt"
done
step pyserini_dr.train.clusters --train-data "$OUT/train.jsonl" --encoder "$MODEL" --clusters 50 \
  --output "$OUT/clusters.tsv"

teacher=(pyserini_dr.train.hybrid_teacher --index "$idx/dense" --sparse-index "$idx/lucene" --alpha "$ALPHA"
         --scale "$SCALE")
step "${teacher[@]}" --train-data "$OUT/train.jsonl" --output "$OUT/hybrid.pairs.txt"
step "${teacher[@]}" --topics $ds-train --run "$OUT/bm25.train.txt" --hits 100 --output "$OUT/hybrid.bm25.txt"
step "${teacher[@]}" --topics $ds-test --run "$OUT/bm25.test.txt" --hits 100 --output "$OUT/hybrid.test.txt"

# GPL-style unlabelled in-domain queries: the corpus titles, labelled by the same teacher over their BM25 top 30
step pyserini_dr.train.pseudo_queries --dataset $ds --output "$OUT/titles.tsv"
step pyserini_dr.search.lucene --index "$idx/lucene" --topics "$OUT/titles.tsv" --hits 30 --threads 2 \
  --output "$OUT/bm25.titles.txt"
step "${teacher[@]}" --topics "$OUT/titles.tsv" --run "$OUT/bm25.titles.txt" --hits 30 --output "$OUT/hybrid.titles.txt"
step pyserini_dr.train.pseudo_labels --topics "$OUT/titles.tsv" --teacher-scores "$OUT/hybrid.titles.txt" \
  --positives 1 --negatives-after 3 --depth 30 --output "$OUT/pseudo.titles.jsonl"
gzip -kf "$OUT/hybrid.titles.txt" "$OUT/pseudo.titles.jsonl"  # what travels to the GPU machine
