#!/usr/bin/env bash
# On a GPU machine: SciFact encoded by the CLI with CUDA graphs, eagerly and in float32 (vectors compared), searched
# with the torch backend (run files for trec_eval), then both benchmarks. Stage the model and data first
# (../shared/tools/stage-gpu-run). Logs and runs go to $OUT (default work/gpu-check).
set -uo pipefail
OUT=${OUT:-work/gpu-check}; mkdir -p "$OUT"
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYSERINI_DR_DATA=$PWD/.carry/data PYSERINI_DR_QUIET=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee $OUT/gpu.txt
git_rev=$(git rev-parse --short HEAD 2>/dev/null || cat .carry/REV 2>/dev/null)
{
  time python -m pyserini_dr.encode --dataset beir-v1.0.0-scifact --encoder .carry/minilm --output /tmp/graphs --bf16 --device cuda --tokenizer-processes 12
  time python -m pyserini_dr.encode --dataset beir-v1.0.0-scifact --encoder .carry/minilm --output /tmp/eager --bf16 --device cuda --tokenizer-processes 12 --no-cuda-graphs
  time python -m pyserini_dr.encode --dataset beir-v1.0.0-scifact --encoder .carry/minilm --output /tmp/fp32 --device cuda
  python - <<'PY'
import numpy as np
from pyserini_dr.index.dense import DenseIndex
g, e, f = (DenseIndex(p).vectors() for p in ("/tmp/graphs", "/tmp/eager", "/tmp/fp32"))
cos = lambda a, b: float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())
print(f"bf16 graphs vs eager: max |diff| {np.abs(g - e).max():.5f}, min cosine {cos(g, e):.5f}")
print(f"bf16 graphs vs fp32 eager: max |diff| {np.abs(g - f).max():.5f}, min cosine {cos(g, f):.5f}")
PY
  time python -m pyserini_dr.search.faiss --index /tmp/graphs --topics beir-v1.0.0-scifact-test --output $OUT/run.graphs.txt --hits 1000 --remove-query --backend torch --device cuda
  time python -m pyserini_dr.search.faiss --index /tmp/fp32 --topics beir-v1.0.0-scifact-test --output $OUT/run.fp32.txt --hits 1000 --remove-query --backend torch --device cuda
} 2>&1 | tee $OUT/scifact.txt
timeout 330 python scripts/bench_encode.py --model .carry/minilm --repeats 3 --tokenizer-processes 12 --dtypes bfloat16 2>&1 | tee $OUT/bench_encode.txt
timeout 200 python scripts/bench_search.py 2>&1 | tee $OUT/bench_search.txt
