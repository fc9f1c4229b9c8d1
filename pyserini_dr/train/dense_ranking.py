"""Exact dense ranking on the training device, for re-mined negatives (ANCE, STAR), ADORE's per-step retrieval and
the dev evaluation: corpus vectors from the model being trained, top-k by a chunked matmul (no faiss on the GPU
machine; exact search is what faiss's flat index would return)."""
from __future__ import annotations

import contextlib

import torch

from ..encode.corpus import CorpusEncoder


class DenseRanker:
    def __init__(self, corpus_ids: list[str], corpus_pairs: list[tuple[str, str]], *, autocast_dtype=None):
        self.corpus_ids = corpus_ids
        self.corpus_pairs = corpus_pairs
        self.autocast_dtype = autocast_dtype

    def _autocast(self, device):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.autocast_dtype)

    @torch.no_grad()
    def encode_corpus(self, model) -> torch.Tensor:
        """[N, d] float32 passage vectors on the model's device, in corpus order."""
        encoder = model.encoder
        was_training = model.training
        model.eval()
        try:
            with self._autocast(encoder.device):
                vecs = CorpusEncoder(encoder).encode_pairs(self.corpus_pairs)
        finally:
            model.train(was_training)
        return torch.from_numpy(vecs).to(encoder.device)

    @torch.no_grad()
    def encode_queries(self, model, texts: list[str], batch_size: int = 512) -> torch.Tensor:
        was_training = model.training
        model.eval()
        try:
            with self._autocast(model.encoder.device):
                out = [model.encode_queries(model.encoder.tokenize_queries(texts[i:i + batch_size]).to(
                    model.encoder.device)) for i in range(0, len(texts), batch_size)]
        finally:
            model.train(was_training)
        return torch.cat(out).float()

    @staticmethod
    @torch.no_grad()
    def top_k(queries: torch.Tensor, docs: torch.Tensor, k: int, chunk: int = 1024, doc_tile: int = 1 << 20):
        """(scores, indices) of the k best documents per query, in rank order. Documents are scored a tile at a time
        and the tiles' top k merged, so memory stays at [chunk x doc_tile] whatever the corpus size."""
        k = min(k, docs.shape[0])
        scores, indices = [], []
        for i in range(0, queries.shape[0], chunk):
            q = queries[i:i + chunk].float()
            best_s = best_i = None
            for start in range(0, docs.shape[0], doc_tile):
                s = q @ docs[start:start + doc_tile].float().T
                top = torch.topk(s, min(k, s.shape[1]), dim=1)
                cand_s, cand_i = top.values, top.indices + start
                if best_s is not None:
                    cand_s, cand_i = torch.cat([best_s, cand_s], 1), torch.cat([best_i, cand_i], 1)
                keep = torch.topk(cand_s, min(k, cand_s.shape[1]), dim=1, sorted=True)
                best_s, best_i = keep.values, torch.gather(cand_i, 1, keep.indices)
            scores.append(best_s)
            indices.append(best_i)
        return torch.cat(scores), torch.cat(indices)

    def rankings(self, model, queries: dict[str, str], k: int, docs: torch.Tensor | None = None
                 ) -> dict[str, list[tuple[str, float]]]:
        """qid -> [(docid, score)] of the top k, with the model's current query and (unless given) passage vectors."""
        docs = self.encode_corpus(model) if docs is None else docs
        qids = list(queries)
        q = self.encode_queries(model, [queries[x] for x in qids])
        scores, indices = self.top_k(q, docs, k)
        scores, indices = scores.cpu().tolist(), indices.cpu().tolist()
        return {qid: [(self.corpus_ids[j], s) for j, s in zip(row_i, row_s)]
                for qid, row_i, row_s in zip(qids, indices, scores)}
