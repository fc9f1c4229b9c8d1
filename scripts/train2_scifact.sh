#!/usr/bin/env bash
# The training-II chain on SciFact from all-MiniLM-L6-v2, for one GPU call: the cross-encoder teacher, its scores,
# then TAS-B, PAIR (both stages, and fine-tuning only) and SimLM (pre-training + fine-tuning, and fine-tuning only),
# each searched on the test topics. Score the runs on a CPU machine with scripts/train_table.py.
#
# usage: MODEL=DIR TRAIN=DIR OUT=DIR bash scripts/train2_scifact.sh
#   TRAIN holds, made on the CPU machine (Lucene, faiss):
#     train.jsonl      python -m pyserini_dr.train.negatives ... --depth 30 (eval/training_scifact.md)
#     bm25.train.txt   python -m pyserini_dr.search.lucene --topics beir-v1.0.0-scifact-train --hits 100 --remove-query
#     bm25.test.txt    the same for beir-v1.0.0-scifact-test
#     clusters.tsv     python -m pyserini_dr.train.clusters --train-data train.jsonl --encoder MODEL --clusters 50
#   optional, to distil another teacher instead of training the cross-encoder here (both TREC runs, made with
#   python -m pyserini_dr.train.hybrid_teacher on the CPU machine, say):
#     TEACHER_PAIRS    its scores of every train.jsonl pair;  TEACHER_BM25  its scores of bm25.train.txt's top 100
#   optional, GPL-style in-domain distillation first (scripts/distill_inputs_scifact.sh makes both):
#     PSEUDO           pseudo-labelled title queries (pseudo.titles.jsonl.gz);  PSEUDO_TEACHER  the teacher's scores
# knobs: CE_EPOCHS (10), EPOCHS (10), PRETRAIN_EPOCHS (3), PSEUDO_EPOCHS (2), KL_WEIGHT (unset: the recipe's
#   reference 1.0 beside contrastive 0.2; before 2026-12-05 this chain passed 0.2), TRAIN_FLAGS (last on
#   every training line), ENCODE_FLAGS, STEPS (default "tasb pair simlm": the students to train)
set -euo pipefail
: "${MODEL:?MODEL=the starting checkpoint}" "${TRAIN:?TRAIN=dir with the CPU-made inputs}" "${OUT:?OUT=dir}"
CE_EPOCHS=${CE_EPOCHS:-10}; EPOCHS=${EPOCHS:-10}; PRETRAIN_EPOCHS=${PRETRAIN_EPOCHS:-3}; KL=(${KL_WEIGHT:+--kl-weight "$KL_WEIGHT"})
PSEUDO_EPOCHS=${PSEUDO_EPOCHS:-2}
PY=${PYTHON:-python}
work=$OUT/work; mkdir -p "$work"
data=(--dataset beir-v1.0.0-scifact)
common=("${data[@]}" --bf16 --lr 2e-5 --log-every 10)

source "$(dirname "$0")/train_steps.sh"
rerank() {  # output [flags]: the teacher's scores
  local out=$1; shift
  $PY -m pyserini_dr.rerank --model "$work/teacher/model" "${data[@]}" --output "$out" "$@" 2>&1 | tail -1
}

# the teacher, its re-ranking of the BM25 test top 100, its scores of the training pairs and of the BM25 train top 100
teacher_pairs=$work/teacher.pairs.txt; teacher_bm25=$work/teacher.bm25.txt
if [ -n "${TEACHER_PAIRS:-}" ]; then  # used where they are: a copy would lose a .gz suffix
  : "${TEACHER_BM25:?TEACHER_BM25=the teacher scores of the BM25 train top 100, beside TEACHER_PAIRS}"
  teacher_pairs=$TEACHER_PAIRS; teacher_bm25=$TEACHER_BM25
else
  train teacher cross-encoder "$MODEL" "$CE_EPOCHS" --train-data "$TRAIN/train.jsonl" --batch-size 16 --negatives 7
  rerank "$OUT/run.teacher.txt" --topics beir-v1.0.0-scifact-test --run "$TRAIN/bm25.test.txt" --hits 100
  rerank "$teacher_pairs" --train-data "$TRAIN/train.jsonl"
  rerank "$teacher_bm25" --topics beir-v1.0.0-scifact-train --run "$TRAIN/bm25.train.txt" --hits 100
fi
students=(--train-data "$TRAIN/train.jsonl" --batch-size 64)
STEPS=" ${STEPS:-tasb pair simlm} "

if [[ $STEPS == *" tasb "* ]]; then
train tasb tasb "$MODEL" "$EPOCHS" "${students[@]}" --teacher-scores "$teacher_pairs" \
    --clusters "$TRAIN/clusters.tsv";                                                   search tasb
fi

if [[ $STEPS == *" pair "* ]]; then
$PY -m pyserini_dr.train.pseudo_labels --topics beir-v1.0.0-scifact-train --teacher-scores "$teacher_bm25" \
    --positives 1 --negatives-after 10 --depth 100 --output "$work/pseudo.jsonl" 2>&1 | tail -1
train pair-stage1 pair "$MODEL" "$EPOCHS" --train-data "$work/pseudo.jsonl" --batch-size 64 --pair-alpha 0.1
train pair pair "$work/pair-stage1/model" "$EPOCHS" "${students[@]}" --pair-alpha 0;    search pair
train pair-finetune pair "$MODEL" "$EPOCHS" "${students[@]}" --pair-alpha 0;           search pair-finetune
fi

if [[ $STEPS == *" simlm "* ]]; then
train simlm-pretrain simlm-pretrain "$MODEL" "$PRETRAIN_EPOCHS" --batch-size 64 --lr 1e-4
train simlm simlm "$work/simlm-pretrain/model" "$EPOCHS" "${students[@]}" --negatives 7 \
    "${KL[@]}" --teacher-scores "$teacher_pairs";                                         search simlm
train simlm-finetune simlm "$MODEL" "$EPOCHS" "${students[@]}" --negatives 7 \
    "${KL[@]}" --teacher-scores "$teacher_pairs";                                         search simlm-finetune
fi

if [ -n "${PSEUDO:-}" ]; then  # the teacher's title-query labels, then the labelled fine-tuning with distillation
  : "${PSEUDO_TEACHER:?PSEUDO_TEACHER=the teacher scores of the PSEUDO groups}"
  train gpl simlm "$MODEL" "$PSEUDO_EPOCHS" --train-data "$PSEUDO" --batch-size 64 --negatives 7 \
      "${KL[@]}" --teacher-scores "$PSEUDO_TEACHER";                          search gpl
  train gpl-simlm simlm "$work/gpl/model" "$EPOCHS" "${students[@]}" --negatives 7 \
      "${KL[@]}" --teacher-scores "$teacher_pairs";                  search gpl-simlm
fi
