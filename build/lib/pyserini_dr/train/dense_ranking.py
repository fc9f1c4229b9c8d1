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

    @contextlib.contextmanager
    def _inference(self, model):
        """The model's own DenseEncoder (which shares its towers) in eval mode, under the training autocast."""
        encoder = model.encoder
        was_training = model.training
        model.eval()
        try:
            with (torch.autocast(encoder.device.type, dtype=self.autocast_dtype) if self.autocast_dtype
                  else contextlib.nullcontext()):
                yield encoder
        finally:
            model.train(was_training)

    def encode_corpus(self, model) -> torch.Tensor:
        """[N, d] float32 passage vectors on the model's device, in corpus order."""
        with self._inference(model) as encoder:
            vecs = CorpusEncoder(encoder).encode_pairs(self.corpus_pairs)
        return torch.from_numpy(vecs).to(encoder.device)

    def encode_queries(self, model, texts: list[str], batch_size: int = 512) -> torch.Tensor:
        with self._inference(model) as encoder:
            vecs = encoder.encode_queries(texts, batch_size)
        return torch.from_numpy(vecs).to(encoder.device)

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
