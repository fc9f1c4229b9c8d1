"""One training loop for every recipe: bf16 autocast, gradient accumulation, a gradient cache, DDP, checkpoints
with exact resume, logs and a dev evaluation hook. The recipe owns negatives and the loss; the loop stays thin.

DDP under torchrun: every rank builds the same global batch (the sampler is seeded), encodes its contiguous slice,
gathers all representations (its own keep their gradient) and computes the loss on the whole batch, so in-batch
negatives span all ranks; gradients are summed across ranks, which equals one process training on the whole
batch (a test checks it with two gloo processes).
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..files import atomic_directory, atomic_write
from ..progress import progress
from .batches import Batch, GroupSampler, Prefetcher, Tokenized
from .model import BiEncoder

CHECKPOINT_DIR = "checkpoint"
MODEL_DIR = "model"
BEST_DIR = "best"
LOG_FILE = "train_log.jsonl"
DEV_LOG_FILE = "dev_log.jsonl"


@dataclass
class TrainConfig:
    output: str
    epochs: int = 3
    batch_size: int = 64            # groups (queries) per optimizer micro-batch: the in-batch negatives' scope
    negatives: int = 1              # hard negatives per group
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    grad_accum: int = 1             # micro-batches per optimizer step
    grad_cache_chunk: int = 0       # >0: encode in chunks of this many groups, full-batch loss (Gao et al. 2021)
    bf16: bool = False
    temperature: float = 1.0
    seed: int = 42
    log_every: int = 10
    save_every: int = 0             # optimizer steps between checkpoints (0: every save_minutes, and at the end)
    save_minutes: float = 10.0      # a checkpoint holds the optimizer state (3x the model): not after every epoch
    max_steps: int = 0              # stop after this many optimizer steps (0: all epochs)
    keep_best: bool = False         # also keep the checkpoint with the best dev nDCG@10 under output/best
    inputs: dict = field(default_factory=dict)  # starting model, data files, recipe options: what a resume must match

    def to_dict(self) -> dict:
        return asdict(self)


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("PYSERINI_DR_BACKEND") != "gloo" else "gloo"
        if backend == "nccl":  # collectives and barriers on this rank's GPU, not cuda:0
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group(backend)
    return (torch.distributed.get_rank(), world) if world > 1 else (0, 1)


def gather(t: torch.Tensor, world: int, rank: int) -> torch.Tensor:
    """All ranks' rows in rank order; this rank's rows keep their gradient."""
    if world == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(world)]
    torch.distributed.all_gather(parts, t.detach().contiguous())
    parts[rank] = t
    return torch.cat(parts)


def _rng_state(device) -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _slice(d: dict, start: int, end: int) -> dict:
    return {k: v[start:end] for k, v in d.items()}


class Trainer:
    def __init__(self, model: BiEncoder, recipe, sampler: GroupSampler, tokens: Tokenized | None,
                 config: TrainConfig, dev=None, corpus: dict | None = None):
        """``model`` is a BiEncoder, or a CrossEncoder for the cross-encoder recipe (which reads ``corpus``,
        docid -> (title, text), instead of ``tokens``)."""
        self.model = model
        self.recipe = recipe
        self.sampler = sampler
        self.tokens = tokens
        self.corpus = corpus if corpus is not None else (tokens.corpus if tokens is not None else {})
        self.config = config
        self.dev = dev  # a DevEvaluation, or None
        self.device = model.device
        self.rank, self.world = _distributed()
        if config.batch_size % self.world:
            raise ValueError(f"batch size {config.batch_size} is not divisible by {self.world} ranks")
        if config.grad_cache_chunk and not recipe.bi_encoder:
            raise ValueError(f"--grad-cache-chunk is for bi-encoder recipes, not {recipe.name}")
        self.autocast_dtype = torch.bfloat16 if config.bf16 else None
        if self.world > 1:  # every rank starts from rank 0's weights (a newly initialised head differs per rank)
            for p in model.parameters():
                torch.distributed.broadcast(p.data, 0)
        params = [p for p in model.parameters() if p.requires_grad]  # ADORE freezes its passage tower
        decay = [p for n, p in model.named_parameters() if p.requires_grad and not _no_decay(n)]
        no_decay = [p for n, p in model.named_parameters() if p.requires_grad and _no_decay(n)]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr, fused=self.device.type == "cuda")
        self.params = params
        steps_per_epoch = sampler.batches_per_epoch() // config.grad_accum
        if steps_per_epoch == 0:
            raise ValueError(f"{len(sampler.examples)} training examples make no batch of {config.batch_size}"
                             f" x {config.grad_accum}")
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = steps_per_epoch * config.epochs
        if config.max_steps:
            self.total_steps = min(self.total_steps, config.max_steps)
        from transformers import get_linear_schedule_with_warmup

        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, int(config.warmup_ratio * self.total_steps),
                                                         self.total_steps)
        self.step = 0
        self.best = None
        self.train_seconds = 0.0
        self._last_save = time.monotonic()
        self.prefetch = Prefetcher(self._make_batch)

    # -- batches ---------------------------------------------------------------------------------------------
    def _micro_index(self, step: int, micro: int) -> tuple[int, int]:
        index = step * self.config.grad_accum + micro
        epoch, within = divmod(index, self.steps_per_epoch * self.config.grad_accum)
        return epoch, within

    def _next_key(self, micro: int):
        """The micro-batch after (this step, micro), to tokenize ahead; None after the last one."""
        step, micro = (self.step, micro + 1) if micro + 1 < self.config.grad_accum else (self.step + 1, 0)
        return self._micro_index(step, micro) if step < self.total_steps else None

    def _make_batch(self, key) -> tuple[Batch, list]:
        epoch, within = key
        groups = self.sampler.batch(epoch, within)
        share = len(groups) // self.world
        mine = groups[self.rank * share:(self.rank + 1) * share]
        batch = self.recipe.make_batch(self, mine)
        batch.extras = self.recipe.prepare(groups)
        return batch, groups

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    # -- one micro-batch ---------------------------------------------------------------------------------------
    def _encode(self, batch: Batch):
        with self._autocast():
            q = self.model.encode_queries(batch.queries)
            p = self.model.encode_passages(batch.passages) if self.recipe.needs_passages else None
        return q, p

    def _loss(self, q, p, batch: Batch, groups) -> torch.Tensor:
        q_all = gather(q, self.world, self.rank)
        p_all = gather(p, self.world, self.rank) if p is not None else None
        return self.recipe.loss(self, q_all, p_all, groups, batch.extras)

    def _backward(self, batch: Batch, groups, scale: float) -> torch.Tensor:
        """The micro-batch's loss (detached, left on the device: no synchronization per step)."""
        if not self.config.grad_cache_chunk:
            loss = self.recipe.forward(self, batch, groups)
            (loss * (scale / self.world if self.recipe.local_loss else scale)).backward()
            return loss.detach()
        return self._backward_cached(batch, groups, scale)

    def _backward_cached(self, batch: Batch, groups, scale: float) -> torch.Tensor:
        """Gradient cache (Gao et al., 2021): representations of the whole batch without a graph, the loss and its
        gradient with respect to them, then each chunk re-encoded with its graph (same dropout, replayed RNG)."""
        chunk = self.config.grad_cache_chunk
        n = batch.queries["input_ids"].shape[0]
        group = (batch.passages["input_ids"].shape[0] // n) if self.recipe.needs_passages else 0
        spans = [(i, min(i + chunk, n)) for i in range(0, n, chunk)]
        chunks = [Batch(batch.groups[a:b], _slice(batch.queries, a, b),
                        _slice(batch.passages, a * group, b * group) if group else {}) for a, b in spans]
        states, qs, ps = [], [], []
        with torch.no_grad():
            for part in chunks:
                states.append(_rng_state(self.device))
                q, p = self._encode(part)
                qs.append(q)
                ps.append(p)
        q = torch.cat(qs).requires_grad_()
        p = torch.cat(ps).requires_grad_() if group else None
        loss = self._loss(q, p, batch, groups)
        (loss * scale).backward()
        after = _rng_state(self.device)
        for (a, b), part, state in zip(spans, chunks, states):
            _set_rng_state(state, self.device)
            qc, pc = self._encode(part)
            grads = [(qc, q.grad[a:b])] + ([(pc, p.grad[a * group:b * group])] if group else [])
            torch.autograd.backward([t for t, _ in grads], [g for _, g in grads])
        _set_rng_state(after, self.device)
        return loss.detach()

    def _sync_gradients(self) -> None:
        if self.world == 1:
            return
        # one flat all-reduce (sum: each rank holds its slice's share of d(loss)); a missing gradient counts as zero,
        # so all ranks reduce the same buffer, and stays missing (the optimizer skips it) only where every rank had
        # none: the same decision on every rank
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        flat = torch.cat([g.reshape(-1) for g in grads]
                         + [torch.tensor([float(p.grad is not None) for p in self.params], device=grads[0].device)])
        torch.distributed.all_reduce(flat)
        had = flat[-len(self.params):] > 0
        offset = 0
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if had[i]:
                p.grad = flat[offset:offset + g.numel()].view_as(g)
            offset += g.numel()

    # -- checkpoints -------------------------------------------------------------------------------------------
    def _path(self, *parts) -> str:
        return os.path.join(self.config.output, *parts)

    def _checkpoint_due(self) -> bool:
        if self.step == self.total_steps:
            return True
        if self.config.save_every:
            return self.step % self.config.save_every == 0
        return time.monotonic() - self._last_save >= self.config.save_minutes * 60

    def save_checkpoint(self) -> None:
        self._last_save = time.monotonic()
        if self.rank != 0:
            return
        with atomic_directory(self._path(CHECKPOINT_DIR)) as tmp:  # a crash leaves checkpoint/ or checkpoint.old/
            torch.save({"step": self.step, "model": self.model.state_dict(),  # tied towers share storage: saved once
                        "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                        "rng": _rng_state(self.device), "recipe": self.recipe.state_dict(), "best": self.best,
                        "train_seconds": self.train_seconds, "config": self.config.to_dict(),
                        "recipe_name": self.recipe.name},
                       os.path.join(tmp, "state.pt"))

    def _resume(self) -> bool:
        path = self._path(CHECKPOINT_DIR, "state.pt")
        if not os.path.isfile(path):
            path = self._path(CHECKPOINT_DIR + ".old", "state.pt")  # killed while replacing the checkpoint
        if not os.path.isfile(path):
            return False
        state = torch.load(path, map_location="cpu", weights_only=False)
        self._check_same_run(state, path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.recipe.load_state_dict(state["recipe"])
        self.step, self.best, self.train_seconds = state["step"], state["best"], state["train_seconds"]
        _set_rng_state(state["rng"], self.device)
        self._truncate_logs()
        return True

    def _check_same_run(self, state: dict, path: str) -> None:
        """A checkpoint continues only the run that wrote it: other settings would not give its loss curve."""
        from ..errors import InputError

        ignore = {"output", "log_every", "save_every", "save_minutes", "keep_best"}
        saved = {k: v for k, v in state["config"].items() if k not in ignore}
        now = {k: v for k, v in self.config.to_dict().items() if k not in ignore}
        saved["recipe"], now["recipe"] = state.get("recipe_name"), self.recipe.name
        changed = [f"{k} {saved.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(saved) | set(now))
                   if saved.get(k) != now.get(k)]
        if changed:
            raise InputError(f"{os.path.dirname(path)} continues a run with other settings ({', '.join(changed)}): "
                             "rerun with the same ones, or pick another --output")

    def _truncate_logs(self) -> None:
        """Drop log lines written after the checkpoint: the resumed run writes them again."""
        for name in (LOG_FILE, DEV_LOG_FILE):
            path = self._path(name)
            if self.rank != 0 or not os.path.isfile(path):
                continue
            records = []
            with open(path) as f:
                for line in f:
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:  # a line torn by the kill
                        pass
            keep = [json.dumps(r) + "\n" for r in records if r.get("step", 0) <= self.step and "summary" not in r]
            with atomic_write(path) as f:
                f.writelines(keep)

    def log(self, name: str, record: dict) -> None:
        if self.rank == 0:
            with open(self._path(name), "a") as f:
                f.write(json.dumps(record) + "\n")

    # -- the loop ----------------------------------------------------------------------------------------------
    def train(self) -> dict:
        os.makedirs(self.config.output, exist_ok=True)
        resumed = self._resume()
        if not resumed:
            torch.manual_seed(self.config.seed)
            for name in (LOG_FILE, DEV_LOG_FILE):
                if self.rank == 0 and os.path.exists(self._path(name)):
                    os.remove(self._path(name))
            started = time.perf_counter()
            self.recipe.start(self)  # ANCE's first index, STAR's mining, ADORE's passage vectors: training time
            self.train_seconds += time.perf_counter() - started
        else:
            self.recipe.resume(self)
            print(f"resumed from step {self.step} of {self.total_steps}", file=sys.stderr)
        if self.recipe.needs_passages and self.tokens is not None:  # the batches' passages, tokenized in one call
            self.tokens.warm([d for ex in self.sampler.examples for d in ex.positives] +
                             [d for pool in self.sampler.pools.values() for d in pool])
        self.model.train()
        bar = progress(total=self.total_steps, initial=self.step, desc=f"train {self.recipe.name}",
                       **({"disable": True} if self.rank else {}))
        examples = self.config.batch_size * self.config.grad_accum
        window_seconds, window_steps, window_loss = 0.0, 0, None  # steps only: evaluation time is not training
        while self.step < self.total_steps:
            started = time.perf_counter()
            if self.recipe.before_step(self, self.step):
                self.prefetch.clear()
            scale = 1.0 / self.config.grad_accum
            losses = []
            for micro in range(self.config.grad_accum):
                batch, groups = self.prefetch.get(self._micro_index(self.step, micro), self._next_key(micro))
                losses.append(self._backward(batch.to(self.device), groups, scale))
            self._sync_gradients()
            if self.config.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            loss = torch.stack(losses).mean()
            elapsed = time.perf_counter() - started
            self.train_seconds += elapsed
            window_seconds += elapsed
            window_steps += 1
            window_loss = loss if window_loss is None else window_loss + loss
            bar.update(1)
            epoch = self._micro_index(self.step - 1, 0)[0]
            if self.step % self.config.log_every == 0 or self.step == self.total_steps:
                record = {"step": self.step, "epoch": epoch, "loss": float(window_loss) / window_steps,
                          "lr": self.scheduler.get_last_lr()[0],
                          "examples_per_s": window_steps * examples / max(window_seconds, 1e-9)}
                self.log(LOG_FILE, record)
                bar.set_postfix(loss=f"{record['loss']:.4f}")
                window_seconds, window_steps, window_loss = 0.0, 0, None
            epoch_end = self.step % self.steps_per_epoch == 0 or self.step == self.total_steps
            if epoch_end and self.dev is not None:
                self._evaluate(epoch)
            if self._checkpoint_due():
                self.save_checkpoint()
        bar.close()
        self.recipe.finish(self)
        if self.rank == 0:
            self.model.save(self._path(MODEL_DIR))
        summary = {"steps": self.step, "train_seconds": round(self.train_seconds, 2), **self.recipe.summary(self)}
        if self.best is not None:
            summary["best_dev"] = self.best
        self.log(LOG_FILE, {"step": self.step, "summary": summary})
        return summary

    def close(self, finished: bool = True) -> None:
        """Leave the process group (a gloo rank that exits inside it may abort); after an error, without waiting for
        ranks that may never arrive."""
        try:
            self.prefetch.clear()
        except Exception:  # noqa: BLE001  (the error being reported is the one that stopped training)
            if finished:
                raise
        if self.world > 1 and torch.distributed.is_initialized():
            if finished:
                torch.distributed.barrier()
            torch.distributed.destroy_process_group()

    def _evaluate(self, epoch: int) -> None:
        if self.rank != 0:
            return
        self.prefetch.clear()  # the evaluation tokenizes on this thread
        os.makedirs(self._path("dev_runs"), exist_ok=True)
        docs = self.recipe.fixed_passages()
        encoded = docs is None
        if encoded:
            docs = self.dev.ranker.encode_corpus(self.model)
        score = self.dev.evaluate(self.model, self._path("dev_runs", f"step{self.step:06d}.txt"), docs=docs)
        if encoded:
            self.recipe.passages_encoded(self, docs)
        record = {"step": self.step, "epoch": epoch, **score}
        self.log(DEV_LOG_FILE, record)
        print(f"dev after epoch {epoch + 1}: " + " ".join(f"{k} {v:.4f}" for k, v in score.items()),
              file=sys.stderr)
        main = score.get("ndcg_cut.10")
        if main is not None and (self.best is None or main > self.best["ndcg_cut.10"]):
            self.best = record
            if self.config.keep_best:
                self.model.save(self._path(BEST_DIR))


def _no_decay(name: str) -> bool:
    return name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name
