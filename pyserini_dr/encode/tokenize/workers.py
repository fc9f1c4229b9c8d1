"""Passage tokenization in spawned worker processes, each with its own ``PassageTokenizer``."""
from __future__ import annotations

import os

import numpy as np

from .passages import PassageTokenizer


# Texts per worker task. Each slice of the corpus is cut into such tasks, so all workers share it and it is ready
# after about one task's tokenization rather than one worker's pass over the whole slice
TASK_SIZE = 128


def worker_threads(processes: int) -> int:
    """Rust threads of each of ``processes`` tokenizer workers: the cores less two, shared out."""
    return max(1, ((os.cpu_count() or 1) - 2) // processes)


# Below this many documents the thread tokenizes as fast as the workers take to start (12 spawned workers: 5 s on
# the H200 host; SciFact encoded in 2.2 s with the thread, 6-7 s with workers; 2M passages 5% faster with them)
WORKERS_MIN_DOCUMENTS = 1_000_000


def default_processes(device, ranks: int = 1, documents: int | None = None) -> int:
    """Tokenizer worker processes where none were asked for: on a GPU host of 8 cores or more (per rank), for a
    corpus of at least ``WORKERS_MIN_DOCUMENTS`` (where known), the cores less 4 (at most 12; the host's two for the
    launching process, two spare), else none: a CPU's cores run the model, and the background thread leaves them to
    it; a small corpus is done before the workers would have started."""
    cores = (os.cpu_count() or 1) // max(1, ranks)
    if documents is not None and documents < WORKERS_MIN_DOCUMENTS:
        return 0
    return min(12, cores - 4) if getattr(device, "type", str(device)).startswith("cuda") and cores >= 8 else 0


class TokenizerProcesses:
    """Tokenization in worker processes, each with its own Rust thread pool: Python tokenization (``AsciiWordPiece``
    where the workers get few Rust threads) and the per-text Python work around the Rust tokenizer run on one core
    in one process. Two cores are left to the process that launches the device's kernels. Workers are spawned (safe
    beside CUDA) once and kept until ``close``; spawning re-imports the main script, so a script using them needs an
    ``if __name__ == "__main__":`` guard."""

    def __init__(self, tokenizer: PassageTokenizer, processes: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        # every worker is started and ready before the first slice: the executor spawns spawn-context workers one
        # per submit, and a worker still importing when the encoding starts competes with it for the cores
        ready = context.Barrier(processes)
        self.pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_start_worker,
                                        initargs=(tokenizer.spec, tokenizer.max_length, worker_threads(processes),
                                                  ready))
        for started in [self.pool.submit(os.getpid) for _ in range(processes)]:
            started.result()
        self.task_size = TASK_SIZE

    def submit(self, inputs: list, pair: bool):
        """A future of ``PassageTokenizer.features(inputs, pair)``, tokenized as tasks of up to ``task_size`` texts
        spread over the workers: a slice is ready when its tasks are, not after one worker's pass over all of it."""
        import threading
        from concurrent.futures import Future

        result = Future()
        starts = range(0, len(inputs), self.task_size)
        parts: list = [None] * len(starts)
        lock = threading.Lock()

        def arrived(part, done):  # on the executor's thread, or on the caller's for a task already done
            with lock:
                if result.done():
                    return
                if done.cancelled():
                    result.cancel()
                elif done.exception() is not None:
                    result.set_exception(done.exception())
                else:
                    try:  # an error raised in a done-callback would only be logged, and the caller wait forever
                        parts[part] = _unpack(*done.result())
                    except Exception as error:
                        result.set_exception(error)
                        return
                    if all(p is not None for p in parts):
                        result.set_result({key: None if parts[0][key] is None else
                                           [x for p in parts for x in p[key]] for key in parts[0]})

        if not parts:
            result.set_result({"input_ids": [], "token_type_ids": [] if pair else None})
        for part, start in enumerate(starts):
            task = self.pool.submit(_features_in_worker, inputs[start:start + self.task_size], pair)
            task.add_done_callback(lambda done, part=part: arrived(part, done))
        return result

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


_worker: PassageTokenizer | None = None


def _start_worker(tokenizer_json: str, max_length: int, threads: int, ready) -> None:
    global _worker
    os.environ["RAYON_NUM_THREADS"] = str(threads)  # read when the Rust thread pool starts, at the first batch
    _worker = PassageTokenizer(tokenizer_json, max_length)
    ready.wait(timeout=600)  # no worker takes a task before all are started (a failed start breaks the barrier)


def _features_in_worker(inputs: list, pair: bool) -> tuple:
    """The features packed as one array per field, in the smallest integer type that holds them (uint16 for
    vocabularies under 65,536), and the lengths: one buffer of a quarter of the bytes to send back. The launching
    process reads it in pipe-sized pieces on a thread that shares the interpreter lock with the one feeding the
    device, so the fewer bytes, the less that thread loses."""
    features = _worker.features(inputs, pair)
    lengths = np.fromiter(map(len, features["input_ids"]), dtype=np.int64, count=len(inputs))
    packed = {}
    for key, arrays in features.items():
        if arrays is not None:
            flat = np.concatenate(arrays) if len(arrays) else np.zeros(0, np.int64)
            packed[key] = flat.astype(np.min_scalar_type(int(flat.max()))) if flat.size and flat.min() >= 0 else flat
    return packed, lengths


def _unpack(packed: dict, lengths: np.ndarray) -> dict:
    cuts = np.cumsum(lengths)[:-1]
    split = {k: np.split(v.astype(np.int64), cuts) for k, v in packed.items()}
    return {"input_ids": split["input_ids"], "token_type_ids": split.get("token_type_ids")}
