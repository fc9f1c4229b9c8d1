#!/usr/bin/env bash
# The best SciFact students (eval/distillation_scifact.md, "Weight averaging and ADORE"), for one GPU call:
#   1. the generalist, in SEEDS runs: GPL title queries -> SimLM fine-tuning, both with KL 5 to the hybrid teacher;
#   2. its uniform soup (python -m pyserini_dr.train.soup): the frozen passage tower;
#   3. ADORE's query encoder on it, trained on the labelled queries x COPIES beside the title queries, SEEDS runs;
#   4. the uniform soup of those query towers (--tower query: the passage vectors, so the index, stay the soup's).
# Writes run.<name>.txt (the test topics) to OUT, and for the two soups run.<name>.train.txt (all 809 train topics,
# the 80 dev queries among them); score the test runs on the CPU machine with scripts/train_table.py.
#
# usage: MODEL=DIR TRAIN=DIR OUT=DIR bash scripts/soup_adore_scifact.sh
#   TRAIN holds train.jsonl, pseudo.titles.jsonl.gz, hybrid.titles.txt.gz and hybrid.pairs.txt
#   (scripts/distill_inputs_scifact.sh on the CPU machine makes them all)
# knobs: SEEDS ("42 1 2", two or more), JOBS (1: seeds trained side by side on the one GPU, up to ~28 GB each; on
#   an H100 it saves little, the steps being mostly GPU-bound), COPIES (10), ADORE_EPOCHS (4), KL_WEIGHT (5),
#   ENCODE_FLAGS (--bf16, as the table's indexes were encoded), SEARCH_FLAGS
set -euo pipefail
: "${MODEL:?MODEL=the starting checkpoint}" "${TRAIN:?TRAIN=dir with the CPU-made inputs}" "${OUT:?OUT=dir}"
SEEDS=${SEEDS:-42 1 2}; JOBS=${JOBS:-1}; COPIES=${COPIES:-10}; ADORE_EPOCHS=${ADORE_EPOCHS:-4}
KL_WEIGHT=${KL_WEIGHT:-5}; ENCODE_FLAGS=${ENCODE_FLAGS:---bf16}
read -ra seeds <<< "$SEEDS"
if [ "${#seeds[@]}" -lt 2 ]; then echo "SEEDS needs two or more seeds for a soup, got '$SEEDS'" >&2; exit 2; fi
if ! [[ "$JOBS" =~ ^[1-9][0-9]*$ ]]; then echo "JOBS must be a whole number >= 1, got '$JOBS'" >&2; exit 2; fi
PY=${PYTHON:-python}
work=$OUT/work; mkdir -p "$work"
common=(--dataset beir-v1.0.0-scifact --bf16 --lr 2e-5 --log-every 50)
source "$(dirname "$0")/train_steps.sh"
search_train() {  # name: the train topics too (the dev split's queries are among them)
  $PY -m pyserini_dr.search.faiss --index "$work/$1/index" --topics beir-v1.0.0-scifact-train \
      --output "$OUT/run.$1.train.txt" --hits 100 --remove-query ${SEARCH_FLAGS:-} 2>&1 | tail -1
}

each_seed() {  # step: `step SEED` for every seed, JOBS at a time; each seed's output is printed, in order, at the end
  local step=$1 seed pid started=0 failed=0 batch=()
  for seed in "${seeds[@]}"; do
    "$step" "$seed" > "$work/$step-$seed.log" 2>&1 &
    batch+=($!); started=$((started + 1))
    if [ "${#batch[@]}" -ge "$JOBS" ] || [ "$started" -eq "${#seeds[@]}" ]; then
      for pid in "${batch[@]}"; do wait "$pid" || failed=1; done
      batch=()
    fi
  done
  for seed in "${seeds[@]}"; do cat "$work/$step-$seed.log"; done
  if [ "$failed" = 1 ]; then echo "$step failed for a seed (its log is above)" >&2; exit 1; fi
}
generalist() {  # seed
  train "gpl-$1" simlm "$MODEL" 2 --seed "$1" --train-data "$TRAIN/pseudo.titles.jsonl.gz" --batch-size 64 \
      --negatives 7 --kl-weight "$KL_WEIGHT" --teacher-scores "$TRAIN/hybrid.titles.txt.gz"
  train "generalist-$1" simlm "$work/gpl-$1/model" 10 --seed "$1" --train-data "$TRAIN/train.jsonl" \
      --batch-size 64 --negatives 7 --kl-weight "$KL_WEIGHT" --teacher-scores "$TRAIN/hybrid.pairs.txt"
}
adore() {  # seed
  train "adore-$1" adore "$work/generalist-soup/model" "$ADORE_EPOCHS" --seed "$1" \
      --train-data "$work/adore-mix.jsonl.gz" --batch-size 64
  search "adore-$1"
}

generalists=(); adores=()
for seed in "${seeds[@]}"; do
  generalists+=("$work/generalist-$seed/model"); adores+=("$work/adore-$seed/model")
done
each_seed generalist
$PY -m pyserini_dr.train.soup --models "${generalists[@]}" --output "$work/generalist-soup/model"
search generalist-soup; search_train generalist-soup
$PY -m pyserini_dr.train.mix --inputs "$TRAIN/train.jsonl" "$TRAIN/pseudo.titles.jsonl.gz" --repeats "$COPIES" 1 \
    --output "$work/adore-mix.jsonl.gz"
each_seed adore
$PY -m pyserini_dr.train.soup --tower query --models "${adores[@]}" --output "$work/adore-soup/model"
search adore-soup; search_train adore-soup
