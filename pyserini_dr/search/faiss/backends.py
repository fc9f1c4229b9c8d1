"""Exact and approximate inner-product search backends: faiss (CPU, or GPU with faiss-gpu) and torch on a GPU.

Each backend answers ``search(queries (B x d float32), k) -> (scores B x k float32, rows B x k int64)``; rows are
positions in the index's docid list, -1 where fewer than k documents exist.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import InputError
from ...index import flat_file


class FaissBackend:
    """A faiss index as written in the directory (flat, HNSW, IVF-PQ); on the GPU where faiss-gpu is installed."""

    def __init__(self, index, threads: int | None = None, gpu: bool = False, ef_search: int | None = None,
                 nprobe: int | None = None):
        import faiss

        if threads:
            faiss.omp_set_num_threads(threads)
        if ef_search:
            hnsw = getattr(faiss.downcast_index(index), "hnsw", None)
            if hnsw is None:
                raise InputError("--ef-search applies to HNSW indexes; this index is not one")
            hnsw.efSearch = ef_search
        if nprobe:
            try:
                faiss.extract_index_ivf(index).nprobe = nprobe
            except RuntimeError:
                raise InputError("--nprobe applies to IVF indexes; this index is not one") from None
        if gpu:
            index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
        self.index = index

    @staticmethod
    def has_gpu() -> bool:
        try:
            import faiss
            return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
        except ImportError:
            return False

    def search(self, queries: np.ndarray, k: int):
        scores, rows = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, rows


class TorchBackend:
    """Exact search on a GPU with torch: the vectors live on the device in fp16 (or bf16).

    For each query batch and slice of documents: scores by one matmul, then the top-k *groups* of ``group`` adjacent
    documents by their maximum (every top-k document lies in a top-k group), then the top candidates inside those
    groups. The best ``k + margin`` candidates are finally re-scored with float32 arithmetic from the stored
    (half-precision) vectors, so the ranking is float32 exact search over the stored vectors, except where fp16
    rounding of the selection scores pushed a document past the margin. On a CUDA device with Triton, the scores
    and group maxima come from one fused kernel (``_triton_kernels``) and never reach device memory.
    """

    def __init__(self, vectors, device: str = "cuda", dtype: str = "float16", group: int = 32,
                 doc_chunk: int = 1 << 21, query_batch: int = 1024, margin: int = 64, fp8_select: bool = False,
                 fused_min_docs: int = 1 << 18):
        """``vectors``: a (memmapped) numpy array, uploaded in slices, or a tensor already on the device.

        ``fp8_select``: the fused path picks its candidates from a float8 (e4m3) copy of the vectors, twice the
        tensor-core rate of fp16, with a wider margin (FP8_MARGIN groups) for its coarser scores; re-scoring stays
        float32 from the stored vectors. The candidates are approximate (overlap with exact search 1.0000 on the
        benchmark's clustered vectors; check your own index). Needs a GPU with float8 (compute capability 8.9+);
        batches of more than 32 queries only (one query is bound by reading the vectors, not by the arithmetic),
        where the fused path runs (fp16/bf16 vectors, at least ``fused_min_docs`` of them).
        ``fused_min_docs``: below this many vectors the Triton kernels are not used (their autotuning costs about
        15 s a process, more than it saves on a small index)."""
        import torch

        self.torch = torch
        self.group, self.query_batch, self.margin = group, query_batch, margin
        self.fused_min_docs = fused_min_docs
        self.doc_chunk = max(group, doc_chunk // group * group)
        n, d = vectors.shape
        # whole blocks of the fused path's groups (8 x 16 documents); padding rows are masked out of every top-k
        padded = math.ceil(n / (group * 16)) * group * 16
        if isinstance(vectors, torch.Tensor):
            self.device, self.dtype = vectors.device, vectors.dtype
            self.vectors = vectors if padded == n else torch.cat([vectors, vectors.new_zeros((padded - n, d))])
        else:
            self.device, self.dtype = torch.device(device), getattr(torch, dtype)
            self.vectors = torch.zeros((padded, d), dtype=self.dtype, device=self.device)
            step = 1 << 20
            for start in range(0, n, step):  # a memmap is never read into host RAM whole
                part = torch.from_numpy(flat_file.rows(vectors, start, start + step))  # a copy: memmaps are read-only
                self.vectors[start:start + len(part)] = part.to(self.device).to(self.dtype)
        self.valid = n
        self.select_vectors = self._fp8_copy() if fp8_select else None

    FP8_TARGET = 240.0  # the largest |element| maps here (e4m3 reaches 448): headroom, and few subnormals
    FP8_MARGIN = 256

    def _fp8_copy(self):
        torch = self.torch
        if self.device.type != "cuda" or not hasattr(torch, "float8_e4m3fn") or \
                torch.cuda.get_device_capability(self.device) < (8, 9):
            raise InputError("fp8 candidate selection needs a GPU with float8 (compute capability 8.9+, e.g. H100)")
        if self._fused() is None:  # no fused path here (small index, float32 vectors, no Triton): no fp8 either
            return None
        step = 1 << 20
        amax = max(float(self.vectors[s:s + step].abs().amax()) for s in range(0, self.vectors.shape[0], step))
        self.fp8_scale = self.FP8_TARGET / max(amax, 1e-30)
        out = torch.empty(self.vectors.shape, dtype=torch.float8_e4m3fn, device=self.device)
        for s in range(0, self.vectors.shape[0], step):
            out[s:s + step] = (self.vectors[s:s + step].float() * self.fp8_scale).to(torch.float8_e4m3fn)
        return out

    def _chunk_topk(self, q, start: int, k: int):
        torch = self.torch
        end = min(start + self.doc_chunk, self.vectors.shape[0])
        scores = q @ self.vectors[start:end].T                      # B x C
        if end > self.valid:                                         # padding rows never win
            scores[:, self.valid - start:] = torch.finfo(scores.dtype).min
        b, c = scores.shape
        groups = scores.view(b, c // self.group, self.group)
        kg = min(k, c // self.group)
        _, top_groups = groups.amax(-1).topk(kg, dim=1, sorted=False)  # B x kg
        cand = (top_groups.unsqueeze(-1) * self.group + torch.arange(self.group, device=q.device)).view(b, -1)
        cand_scores = scores.gather(1, cand)
        kk = min(k, cand.shape[1])
        best, pos = cand_scores.topk(kk, dim=1, sorted=False)
        return best, cand.gather(1, pos) + start

    def _fused(self):
        """The Triton kernels when they can run here (a CUDA device, half-precision vectors), else None."""
        if not hasattr(self, "_kernels"):
            self._kernels = None
            if self.device.type == "cuda" and self.dtype in (self.torch.float16, self.torch.bfloat16) and \
                    self.valid >= self.fused_min_docs:
                try:
                    from . import _triton_kernels
                    if self.vectors.shape[0] % (_triton_kernels.GROUP * _triton_kernels.SUPER) == 0:
                        self._kernels = _triton_kernels
                except ImportError:
                    pass
        return self._kernels

    def _group_scores(self, kernels, q32):
        """Group and block maxima from the fused kernel (fp8 or fp16 inputs), and the margin their precision needs."""
        torch = self.torch
        if self.select_vectors is not None and len(q32) > 32:
            # a scale per query, kept on the device (no sync; a bad query row spoils only itself); the kernel maps
            # each row's scores back to the vectors' units
            q_scale = self.FP8_TARGET / q32.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
            q8 = (q32 * q_scale).to(torch.float8_e4m3fn).contiguous()
            scale = (1.0 / (q_scale * self.fp8_scale)).reshape(-1).float().contiguous()
            groups, blocks = kernels.group_max(q8, self.select_vectors, self.valid, scale, out_dtype=self.dtype)
            return groups, blocks, max(self.margin, self.FP8_MARGIN)
        return *kernels.group_max(q32.to(self.dtype).contiguous(), self.vectors, self.valid), self.margin

    def _search_fused(self, kernels, q32, k_eff: int):
        """Group and block maxima from the fused kernel, the top k + margin groups, float32 re-scoring of their
        documents, the top k."""
        torch = self.torch
        groups, blocks, margin = self._group_scores(kernels, q32)
        kg = min(k_eff + margin, groups.shape[1])
        # A top-k group lies in a top-k block of SUPER groups (by block maximum, from the kernel), so the top-k over
        # all groups is taken over the blocks' groups only: a top-k over N/8/16 then 16k values instead of N/8.
        b, n_groups = groups.shape
        if kg * kernels.SUPER < n_groups:
            _, top_blocks = blocks.topk(kg, dim=1, sorted=False)
            inner = (top_blocks.unsqueeze(-1) * kernels.SUPER +
                     torch.arange(kernels.SUPER, device=q32.device)).view(b, -1)
            _, pos = groups.gather(1, inner).topk(kg, dim=1, sorted=False)
            top_groups = inner.gather(1, pos)
        else:
            _, top_groups = groups.topk(kg, dim=1, sorted=False)
        del groups, blocks  # about 2 GB at 1024 queries x 8.8M documents: freed before re-scoring
        cand = (top_groups.unsqueeze(-1) * kernels.GROUP +
                torch.arange(kernels.GROUP, device=q32.device)).view(len(q32), -1).to(torch.int32)
        scores = kernels.rescore(q32.contiguous(), self.vectors, cand)
        scores.masked_fill_(cand >= self.valid, float("-inf"))
        best, pos = scores.topk(k_eff, dim=1)
        return best, cand.gather(1, pos).long()

    def search(self, queries: np.ndarray, k: int):
        torch = self.torch
        k_eff = min(k, self.valid)
        want = min(k_eff + self.margin, self.valid)
        all_scores, all_rows = [], []
        for qs in range(0, len(queries), self.query_batch):
            q32 = torch.from_numpy(np.ascontiguousarray(queries[qs:qs + self.query_batch], dtype=np.float32))
            q32 = q32.to(self.device)
            kernels = self._fused()
            if kernels is not None:  # results stay on the device until the end: no sync per batch
                exact, rows = self._search_fused(kernels, q32, k_eff)
                all_scores.append(exact)
                all_rows.append(rows)
                continue
            q = q32.to(self.dtype)
            parts = [self._chunk_topk(q, s, want) for s in range(0, self.vectors.shape[0], self.doc_chunk)]
            scores = torch.cat([p[0] for p in parts], 1)
            rows = torch.cat([p[1] for p in parts], 1)
            _, pos = scores.topk(want, dim=1)
            rows = rows.gather(1, pos)
            # exact float32 re-scoring of the candidates
            exact = torch.einsum("bd,bkd->bk", q32, self.vectors[rows].float())
            exact, order = exact.topk(k_eff, dim=1)
            all_scores.append(exact.cpu())
            all_rows.append(rows.gather(1, order).cpu())
        scores = torch.cat([s.cpu() for s in all_scores]).numpy()
        rows = torch.cat([r.cpu() for r in all_rows]).numpy().astype(np.int64)
        if k_eff < k:  # fewer documents than k: pad like faiss
            pad = k - k_eff
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=-1)
        return scores, rows
