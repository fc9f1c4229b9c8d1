"""Dense search over a dense index directory with a query encoder and a backend (faiss CPU/GPU or torch GPU)."""
from __future__ import annotations

import numpy as np

from ...data.ranked_arrays import RankedArrays
from ...data.runs import Run
from ...encode.families import check_fits_index
from ...errors import InputError
from ...index.dense import DenseIndex
from ..queries import encode_topics

BACKENDS = ("auto", "faiss", "faiss-gpu", "torch")


class DenseSearcher:
    """Encodes topics and searches; ``backend='auto'`` picks faiss-gpu, else torch on a GPU, else faiss on the CPU."""

    def __init__(self, index: DenseIndex, encoder, *, backend: str = "auto", device: str = "cpu",
                 threads: int | None = None, dtype: str = "float16", ef_search: int | None = None,
                 nprobe: int | None = None, fp8_select: bool = False):
        self.index = index
        self.encoder = encoder
        check_fits_index(index, encoder.settings, encoder.dimension)
        self.backend_name = "torch" if fp8_select and backend == "auto" and device.startswith("cuda") else \
            self._pick(backend, device)
        if self.backend_name == "torch":
            from .backends import TorchBackend
            if index.meta.get("index_type", "Flat") != "Flat":
                raise InputError(f"the torch backend searches flat indexes exactly; {index.directory} is "
                                 f"{index.meta['index_type']}: use --backend faiss")
            if ef_search or nprobe:  # it would search exactly and ignore them without a word
                raise InputError("--ef-search and --nprobe tune faiss HNSW and IVF indexes: the torch backend "
                                 "searches exactly (use --backend faiss)")
            vectors = index.vectors()
            if vectors.shape[1] != encoder.dimension:  # an index without meta.json: torch would fail in a matmul
                raise InputError(f"encoder dimension {encoder.dimension} does not match the {vectors.shape[1]} of "
                                 f"{index.directory}'s vectors")
            # on a CPU (no faiss there, say) the torch backend computes in float32
            self.backend = TorchBackend(vectors, device=device,
                                        dtype=dtype if device.startswith("cuda") else "float32", fp8_select=fp8_select)
        else:
            if fp8_select:
                raise InputError("--fp8-select applies to the torch backend (exact search on a GPU): --backend torch")
            from .backends import FaissBackend
            faiss_index = index.faiss_index()
            if faiss_index.d != encoder.dimension:  # an index without meta.json: faiss would assert in search
                raise InputError(f"encoder dimension {encoder.dimension} does not match the {faiss_index.d} of "
                                 f"{index.directory}'s faiss index")
            self.backend = FaissBackend(faiss_index, threads, gpu=self.backend_name == "faiss-gpu",
                                        ef_search=ef_search, nprobe=nprobe)

    @staticmethod
    def _pick(backend: str, device: str) -> str:
        if backend not in BACKENDS:
            raise InputError(f"unknown backend {backend!r} ({', '.join(BACKENDS)})")
        if backend != "auto":
            return backend
        from .backends import FaissBackend
        if device.startswith("cuda"):
            return "faiss-gpu" if FaissBackend.has_gpu() else "torch"
        return "faiss"

    def search_vectors(self, vectors: np.ndarray, qids: list[str], hits: int, remove_query: bool = False) -> Run:
        return self.search_ranked(vectors, qids, hits, remove_query).to_run()

    def search_ranked(self, vectors: np.ndarray, qids: list[str], hits: int,
                      remove_query: bool = False) -> RankedArrays:
        """The hits as arrays (what the CLI writes): no Python object per hit."""
        scores, rows = self.backend.search(vectors, hits)  # like pyserini: --remove-query may leave hits - 1
        docids = self._docid_array()
        scores, rows = np.asarray(scores), np.asarray(rows)
        # nan vectors in the index give nan scores (torch) or no hits at all (a flat faiss index): a silent ranking
        flat = self.index.meta.get("index_type", "Flat") == "Flat"
        if not np.isfinite(scores[rows >= 0]).all() or flat and (rows[:, :min(hits, len(docids))] < 0).any():
            raise InputError(f"searching {self.index.directory} gave non-finite scores (nan or inf): its vectors "
                             "hold nan or inf (a broken model or float16 overflow when it was encoded)")
        keep = rows >= 0
        if remove_query:
            keep &= docids[np.where(keep, rows, 0)] != np.array(qids, dtype=object)[:, None]
        return RankedArrays(qids, docids, rows, scores, keep)

    def _docid_array(self) -> np.ndarray:
        if not hasattr(self, "_docids"):
            self._docids = np.array(self.index.docids, dtype=object)
        return self._docids

    def batch_search(self, topics: dict[str, str], hits: int = 1000, batch_size: int = 256,
                     remove_query: bool = False) -> Run:
        return self.batch_search_ranked(topics, hits, batch_size, remove_query).to_run()

    def batch_search_ranked(self, topics: dict[str, str], hits: int = 1000, batch_size: int = 256,
                            remove_query: bool = False) -> RankedArrays:
        qids, vectors = encode_topics(self.encoder, topics, batch_size)
        return self.search_ranked(vectors, qids, hits, remove_query)
