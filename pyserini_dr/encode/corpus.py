"""Corpus -> vectors -> a Pyserini dense index directory, resumable and shardable.

The corpus is cut into fixed chunks of documents (in corpus order). Each chunk is tokenized once, sorted by token
length and encoded in batches under a token budget (little padding), and its vectors are written through a memmap
into what becomes the flat faiss ``index`` (``index.flat_file``: its vectors at a fixed offset). After each chunk a
progress file records how many are done, so a killed run resumes at the next chunk; since chunk boundaries and
batches do not depend on when the run started, the result is identical to an uninterrupted run. At the end:
``index``, ``docid`` and ``meta.json``, whose presence marks the directory complete.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import numpy as np
import torch

from ..files import atomic_write
from ..progress import progress
from ..data.corpus import document_bound, count_documents, iter_corpus
from ..errors import InputError
from ..index import flat_file
from ..index.dense import FAISS_FILE, PARTIAL_FILE, refuse_foreign_output, write_dense_index
from .encoder import DenseEncoder
from .forward import EagerForward, GraphedForward, graphs_supported
from .tokenize import TokenizerProcesses, default_processes

PROGRESS_FILE = ".progress.json"
CHUNK_SIZE = 16384       # documents per resumable chunk
BATCH_TOKENS = 131072    # token budget of one padded batch (a BERT-base batch in bf16 fits easily on a GPU)
CPU_BATCH_TOKENS = 2048  # on a CPU, small batches that stay in cache (CPU figures: eval/results/encode_cpu.txt)
FIRST_SLICE = 16         # documents in the first tokenized slice: the device starts after a short tokenization
WIDTH_DROP = 0.1         # a batch ends before a passage 10% shorter than its width (once it holds budget / 8)


def chunk_digest(chunk) -> str:
    """What a chunk of documents holds (ids, titles, texts): a resumed run checks the corpus still holds it."""
    digest = hashlib.sha256()
    for doc in chunk:
        digest.update("\0".join((doc.docid, doc.title, doc.text, "")).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def refuse_non_finite(block: np.ndarray, chunk) -> None:
    """A model that gives nan or inf (a broken checkpoint, float16 overflow) would be indexed and ranked silently."""
    finite = np.isfinite(block).all(axis=1)
    if not finite.all():
        bad = [chunk[i].docid for i in np.flatnonzero(~finite)[:3]]
        raise InputError(f"the encoder gave non-finite vectors (nan or inf) for {int((~finite).sum())} documents, "
                         f"e.g. {', '.join(bad)}: a broken checkpoint, or float16 overflow (try --bf16)")


def preallocate(path: str, size: int) -> None:
    """Reserve the vectors' bytes on disk before they are written through a memmap: a memmap's file is sparse, and a
    page written where the disk has no room kills the process with SIGBUS (no message, no cleanup). A full disk is
    an OSError (ENOSPC) here instead, one line from ``run_main``."""
    with open(path, "ab") as f:
        if hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(f.fileno(), 0, size)
                return
            except OSError as e:
                if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):  # fall back where unsupported
                    raise OSError(e.errno, f"{os.strerror(e.errno)}: cannot reserve {size:,} bytes for the "
                                  "vectors", path) from None
        f.truncate(max(size, os.path.getsize(path)))


def shard_range(total: int, shard_id: int, shard_num: int) -> tuple[int, int]:
    if not 0 <= shard_id < shard_num:
        raise InputError(f"--shard-id must be in [0, {shard_num}), got {shard_id}")
    size = total // shard_num  # Pyserini's split (JsonlCollectionIterator): the last shard takes the rest
    return shard_id * size, (total if shard_id == shard_num - 1 else (shard_id + 1) * size)


class CorpusEncoder:
    def __init__(self, encoder: DenseEncoder, *, chunk_size: int = CHUNK_SIZE, batch_tokens: int | None = None,
                 max_batch: int = 4096, sort_slice: int = 1024, first_slice: int | None = None,
                 compile: bool = False, tokenizer_processes: int | None = 0, cuda_graphs: bool = True,
                 width_drop: float = WIDTH_DROP, ranks: int = 1):
        """``sort_slice`` documents are tokenized together (on a background thread, or in ``tokenizer_processes``
        worker processes, while the device encodes the previous slice), sorted by length and batched; the first
        slice holds ``first_slice`` documents and each next one doubles. ``cuda_graphs`` replays the model's forward
        from CUDA graphs on a GPU (``GraphedForward``); ``width_drop`` closes a batch early where the next passage is
        that fraction shorter than the batch's width (once the batch holds an eighth of the token budget);
        ``compile`` runs the model through torch.compile instead of graphs. ``tokenizer_processes=None``: as many
        as ``default_processes`` gives for the device, the ``ranks`` sharing the host and the corpus's size.

        The defaults (graphs, width_drop, first_slice) were chosen with scripts/bench_encode.py, and worker
        processes tokenize faster than the thread on many-core GPU hosts (eval/results/bench_encode.*). Workers stay
        opt-in because they are spawned processes: a calling script needs an ``if __name__ == "__main__":`` guard, or
        the workers re-run it. They are this encoder's: started at the first slice, stopped when the ``with`` block
        of ``encode``, ``encode_pairs`` or the caller ends."""
        if encoder.settings.family == "adore" and encoder.passage_model is encoder.query_model:
            raise InputError(f"{encoder.name} is an ADORE query encoder without a passage tower: encode the corpus "
                             f"with the STAR passage encoder it was trained against (--encoder-class star)")
        self.encoder = encoder
        self.sort_slice = sort_slice
        self.first_slice = max(1, min(sort_slice, first_slice or FIRST_SLICE))
        self.compiled = compile
        self.cuda_graphs = cuda_graphs and not compile
        self.width_drop = width_drop
        self._forward = None  # the EagerForward or GraphedForward, made at the first batch
        if compile:
            encoder.passage_model.forward = torch.compile(encoder.passage_model.forward, dynamic=True)
        self.chunk_size = chunk_size
        self.batch_tokens = batch_tokens or (BATCH_TOKENS if encoder is None or encoder.device.type == "cuda"
                                             else CPU_BATCH_TOKENS)
        self.max_batch = max_batch
        self.tokenizer_processes = tokenizer_processes
        self._auto_processes, self.ranks = tokenizer_processes is None, ranks
        self._workers = None  # the TokenizerProcesses, started at the first slice and closed by ``close``
        self._open = 0        # ``with`` blocks open on this encoder: the workers stop when the outermost one ends

    def __enter__(self) -> "CorpusEncoder":
        """Keeps the tokenizer worker processes started inside the block until it ends. ``encode`` and
        ``encode_pairs`` each open one; a caller's block makes several calls share one start of the workers."""
        self._open += 1
        return self

    def __exit__(self, *_) -> None:
        self._open -= 1
        if not self._open:
            self.close()

    def close(self) -> None:
        """Stops the tokenizer worker processes, if any."""
        if self._workers is not None:
            self._workers.close()
            self._workers = None

    def _submit_passage_ids(self, passages: list[tuple[str, str]], thread):
        """``encoder.passage_ids(passages)`` as a future: from ``tokenizer_processes`` worker processes (started at
        the first call) or, where that is 0 or the tokenizer is a slow one, on ``thread`` (an executor)."""
        backend = self.encoder.rust_tokenizer()
        if not self.tokenizer_processes or backend is None or not self.encoder.settings.pair_segments or \
                self.encoder.settings.title == "titled-pair":
            return thread.submit(self.encoder.passage_ids, passages)
        if self._workers is None:
            self._workers = TokenizerProcesses(backend, self.tokenizer_processes)
        return self._workers.submit(self.encoder._passage_inputs(passages), self.encoder.pair_input)

    def _batches(self, lengths: list[int]):
        """Rows in descending token length, grouped so each padded batch stays within the token budget; with
        ``width_drop``, a batch holding an eighth of the budget also ends before a passage that much shorter than
        its width (less padding, more batches)."""
        order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        shorter = (1 - self.width_drop) if self.width_drop else 0
        batch, width = [], 0
        for i in order:
            n = lengths[i]
            if batch and (max(width, n) * (len(batch) + 1) > self.batch_tokens or len(batch) >= self.max_batch or
                          (n < width * shorter and 8 * width * len(batch) >= self.batch_tokens)):
                yield batch
                batch, width = [], 0
            batch.append(i)
            width = max(width, n)
        if batch:
            yield batch

    def _encode_features(self, features: dict, out: torch.Tensor, offset: int, on_batch=None) -> None:
        if self._forward is None:
            self._forward = self._passage_forward()
        lengths = [len(ids) for ids in features["input_ids"]]
        for rows in self._batches(lengths):
            vecs = self._forward(features, rows)
            # the row numbers go up from pinned memory without waiting: the device never idles on this copy
            index = torch.tensor(rows, dtype=torch.int64).add_(offset)
            if out.is_cuda:
                index = index.pin_memory().to(out.device, non_blocking=True)
            out[index] = vecs
            if on_batch is not None:
                on_batch(len(rows))

    def _passage_forward(self):
        """The passage model's forward: replayed from CUDA graphs where ``cuda_graphs`` is on and the device and model
        take them (``graphs_supported``), eager otherwise."""
        model = self.encoder.passage_model
        if self.cuda_graphs and graphs_supported(model, self.encoder.device):
            return GraphedForward(self.encoder, model)
        return EagerForward(self.encoder, model)

    def _slices(self, count: int) -> list[tuple[int, int]]:
        """(start, end) of the slices tokenized together: the first holds ``first_slice`` documents and each next
        one doubles up to ``sort_slice``, so the device starts after a short tokenization instead of a whole
        slice's."""
        bounds, start, size = [], 0, self.first_slice
        while start < count:
            bounds.append((start, min(count, start + size)))
            start, size = start + size, min(self.sort_slice, 2 * size)
        return bounds

    def encode_pairs(self, passages: list[tuple[str, str]], on_batch=None) -> np.ndarray:
        """Vectors of (title, text) passages, in order.

        Slices of up to ``sort_slice`` documents are tokenized in worker processes, or on a background thread (the
        Rust tokenizer releases the GIL and uses all cores), while the device encodes the previous slice in
        length-sorted batches.
        """
        out = torch.empty((len(passages), self.encoder.dimension), dtype=torch.float32, device=self.encoder.device)
        with self, ThreadPoolExecutor(1) as thread:
            slices = [(start, self._submit_passage_ids(passages[start:end], thread))
                      for start, end in self._slices(len(passages))]
            for start, future in slices:
                self._encode_features(future.result(), out, start, on_batch)
        return out.cpu().numpy()

    def encode(self, corpus_path: str, output_dir: str, *, shard_id: int = 0, shard_num: int = 1,
               corpus_name: str | None = None) -> dict:
        """Encode (this shard of) the corpus into ``output_dir``; returns the meta written. One shard reads the
        corpus once, validating each document as it is encoded (a fresh run that meets a bad one leaves nothing
        behind); several shards count the documents first, for Pyserini's split."""
        refuse_foreign_output(output_dir, resumable=PROGRESS_FILE)
        if shard_num > 1:
            start, end = shard_range(count_documents(corpus_path), shard_id, shard_num)
            count = room = end - start
        else:
            shard_range(1, shard_id, shard_num)  # refuses a --shard-id beyond the one shard
            start, count, room = 0, None, document_bound(corpus_path)
        if room == 0:
            raise InputError(f"shard {shard_id}/{shard_num} of {corpus_path} has no documents")
        dim = self.encoder.dimension
        if self._auto_processes:  # for this machine and this corpus
            self.tokenizer_processes = default_processes(self.encoder.device, self.ranks, room)
        fresh = not os.path.exists(output_dir)
        os.makedirs(output_dir, exist_ok=True)
        plan = {"corpus": os.path.abspath(corpus_path), "shard": [shard_id, shard_num], "start": start,
                "count": count, "dimension": dim, "chunk_size": self.chunk_size, "batch_tokens": self.batch_tokens,
                "sort_slice": self.sort_slice, "first_slice": self.first_slice, "compiled": self.compiled,
                "cuda_graphs": self.cuda_graphs, "width_drop": self.width_drop,
                "encoder": self.encoder.describe()}
        digests = self._resume_point(output_dir, plan)  # one per chunk done: what each chunk held
        resumed = bool(digests)
        started = time.time()
        try:
            docids, empty = self._encode_chunks(corpus_path, output_dir, plan, digests, room)
        except InputError:  # a bad document or vector met by a fresh run: no unfinished directory is left
            if not resumed:
                if fresh:
                    shutil.rmtree(output_dir, ignore_errors=True)
                else:
                    for name in (PARTIAL_FILE, PROGRESS_FILE):
                        with contextlib.suppress(FileNotFoundError):
                            os.remove(os.path.join(output_dir, name))
            raise
        if count is not None and len(docids) != count:
            raise InputError(f"{corpus_path} changed while encoding: expected {count} documents, read {len(docids)}")
        encode_seconds = time.time() - started
        meta = {**plan, "count": len(docids), "corpus": corpus_name or plan["corpus"], "documents": len(docids),
                "empty_documents": empty, "encode_seconds": round(encode_seconds, 2)}
        # how the vectors were computed, not what they are: not in meta.json
        for key in ("chunk_size", "batch_tokens", "sort_slice", "first_slice", "compiled", "cuda_graphs",
                    "width_drop"):
            meta.pop(key)
        meta = write_dense_index(output_dir, docids, meta)
        os.remove(os.path.join(output_dir, PROGRESS_FILE))
        return meta

    def _encode_chunks(self, corpus_path: str, output_dir: str, plan: dict, digests: list[str],
                       room: int) -> tuple[list[str], int]:
        """Encodes the chunks after those in ``digests`` (checking that the corpus still holds those) into the
        vectors file, sized for ``room`` documents and cut to those read at the end; returns the docids and the
        count of empty documents."""
        done_chunks = len(digests)
        if done_chunks == 0:  # the plan is on disk before any vector: a run killed in chunk 0 resumes too
            self._save_progress(output_dir, plan, digests)
        dim, start = plan["dimension"], plan["start"]
        emb_path = os.path.join(output_dir, PARTIAL_FILE)
        if done_chunks and not os.path.isfile(emb_path):
            if not os.path.isfile(os.path.join(output_dir, FAISS_FILE)):
                raise InputError(f"{output_dir} holds an unfinished run whose vectors are gone: remove it and "
                                 "encode again")
            os.replace(os.path.join(output_dir, FAISS_FILE), emb_path)  # killed while finishing: finish again
        preallocate(emb_path, flat_file.HEADER_BYTES + room * dim * 4)
        vectors = flat_file.vectors(emb_path, dim, room, mode="r+")
        end = None if plan["count"] is None else start + plan["count"]
        docs = islice(iter_corpus(corpus_path), start, end)
        docids: list[str] = []
        empty = 0
        bar = progress(total=room, initial=min(done_chunks * self.chunk_size, room), unit="doc", desc="encode")

        def chunks():
            nonlocal empty
            while True:
                chunk = list(islice(docs, self.chunk_size))
                if not chunk:
                    return
                docids.extend(d.docid for d in chunk)
                empty += sum(1 for d in chunk if not (d.title.strip() or d.text.strip()))
                yield chunk

        with self:  # the tokenizer workers serve every chunk and stop after the last
            for n, chunk in enumerate(chunks()):
                if n < done_chunks:
                    if chunk_digest(chunk) != digests[n]:  # vectors of other documents would get these docids
                        raise InputError(f"{corpus_path} changed since the interrupted run ({n * self.chunk_size:,} "
                                         f"documents on, its chunk {n} differs): remove {output_dir} and encode again")
                    continue
                row = n * self.chunk_size
                if row + len(chunk) > room:  # more documents than lines when the run started
                    raise InputError(f"{corpus_path} changed while encoding: it holds more documents than when "
                                     "the run started")
                block = self.encode_pairs([(d.title, d.text) for d in chunk], bar.update)
                refuse_non_finite(block, chunk)
                vectors[row:row + len(chunk)] = block
                vectors.flush()
                digests.append(chunk_digest(chunk))
                self._save_progress(output_dir, plan, digests)
        bar.close()
        vectors.flush()
        del vectors
        if not docids:
            raise InputError(f"{corpus_path} has no documents")
        return docids, empty  # write_dense_index gives back the room reserved for blank lines

    @staticmethod
    def _save_progress(output_dir: str, plan: dict, digests: list[str]) -> None:
        with atomic_write(os.path.join(output_dir, PROGRESS_FILE)) as f:
            json.dump({**plan, "chunks_done": len(digests), "chunk_digests": digests}, f)

    @staticmethod
    def _resume_point(output_dir: str, plan: dict) -> list[str]:
        """The digests of the chunks an interrupted run of the same plan finished (none for a fresh run)."""
        path = os.path.join(output_dir, PROGRESS_FILE)
        if not os.path.isfile(path):
            return []
        with open(path) as f:
            saved = json.load(f)
        done = saved.pop("chunks_done", 0)
        digests = saved.pop("chunk_digests", None)
        if digests is None or len(digests) != done:
            raise InputError(f"{output_dir} holds an unfinished run of an older version (no corpus digests): remove "
                             "it and encode again")
        if saved != plan:
            changed = sorted(k for k in plan if saved.get(k) != plan[k])
            raise InputError(f"{output_dir} holds an unfinished run with other settings ({', '.join(changed)}); "
                             "remove it or rerun with the same settings")
        return digests
