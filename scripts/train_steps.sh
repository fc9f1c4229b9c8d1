# Sourced by scripts/train_scifact.sh, train2_scifact.sh and soup_adore_scifact.sh: one training step, one test search.
# Expects PY (python), work (models), OUT (what comes back) and the array `common` (flags of every training);
# TRAIN_FLAGS go last on every training line, ENCODE_FLAGS / SEARCH_FLAGS on every encode / search.

train() {  # name recipe start epochs [flags]: trains into $work/name, copies its logs to $OUT
  local name=$1 recipe=$2 start=$3 epochs=$4; shift 4
  echo "== $name: python -m pyserini_dr.train --recipe $recipe --model $start --epochs $epochs ${common[*]} $* ${TRAIN_FLAGS:-}"
  $PY -m pyserini_dr.train --recipe "$recipe" --model "$start" --epochs "$epochs" --output "$work/$name" \
      "${common[@]}" "$@" ${TRAIN_FLAGS:-} 2>&1 | grep -v "it/s\]" | tail -4
  cp "$work/$name/train_log.jsonl" "$OUT/$name.train_log.jsonl"
  if [ -f "$work/$name/dev_log.jsonl" ]; then cp "$work/$name/dev_log.jsonl" "$OUT/$name.dev_log.jsonl"; fi
}

search() {  # name: encodes SciFact with $work/name/model, writes the test run (top 100) to $OUT/run.name.txt
  local name=$1
  rm -rf "$work/$name/index"
  $PY -m pyserini_dr.encode --dataset beir-v1.0.0-scifact --encoder "$work/$name/model" --output "$work/$name/index" \
      ${ENCODE_FLAGS:-} 2>&1 | tail -1
  $PY -m pyserini_dr.search.faiss --index "$work/$name/index" --topics beir-v1.0.0-scifact-test \
      --output "$OUT/run.$name.txt" --hits 100 --remove-query ${SEARCH_FLAGS:-} 2>&1 | tail -1
}
