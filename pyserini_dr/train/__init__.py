"""Training dense retrievers: examples and negatives, losses, one trainer loop, and a recipe per method.

- ``examples``: Tevatron-style training groups (query, positive ids, negative ids) built from qrels;
- ``negatives``: hard negatives mined from a run (Lucene BM25 on the CPU, or a dense index);
- ``batches``: pre-tokenized, seeded sampling of (query, positive, negatives) groups, resumable mid-epoch;
- ``model``: the bi-encoder being trained (a ``DenseEncoder``'s towers, pooling and normalization);
- ``losses``: one small function per published loss;
- ``trainer``: the loop (bf16, accumulation, logs, dev eval), with ``grad_cache``, ``distributed`` (DDP) and
  ``checkpoints`` (exact resume);
- ``recipes``: one module per method: warmup, ance, star, adore, tasb, pair, simlm(-pretrain), cross-encoder;
- ``options``: the command's option groups as typed records; ``build``: a trainer from them.
Imports without pyserini, Java or faiss (the GPU machine has none of them).
"""
