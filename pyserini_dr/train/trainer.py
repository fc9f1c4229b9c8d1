"""One training loop for every recipe: bf16 autocast, gradient accumulation, a gradient cache (``grad_cache``), DDP
(``distributed``), checkpoints with exact resume (``checkpoints``), logs and a dev evaluation hook. The recipe owns
negatives, the representations it needs and the loss; the loop stays thin and knows no recipe by name.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field

import torch

from ..errors import InputError
from ..progress import progress
from .batches import Batch, GroupSampler, Prefetcher, Tokenized
from .checkpoints import (BEST_DIR, DEV_LOG_FILE, LOG_FILE, MODEL_DIR, check_same_run, load_state, save_state,
                          truncate_logs)
from .distributed import broadcast_parameters, gather, init_distributed, sum_gradients
from .grad_cache import backward_cached, rng_state, set_rng_state
from .model import BiEncoder


@dataclass
class TrainConfig:
    output: str
    epochs: int = 3
    batch_size: int = 64            # groups (queries) per optimizer micro-batch: the in-batch negatives' scope
    negatives: int = 1              # hard negatives per group
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    warmup_steps: int = 0           # >0: warm-up steps, instead of warmup_ratio of the steps
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
        self.rank, self.world = init_distributed()
        if config.batch_size % self.world:
            raise InputError(f"batch size {config.batch_size} is not divisible by {self.world} ranks")
        if config.grad_cache_chunk and not recipe.grad_cache:
            raise InputError(f"--grad-cache-chunk is for bi-encoder recipes, not {recipe.name}")
        self.autocast_dtype = torch.bfloat16 if config.bf16 else None
        if self.world > 1:
            broadcast_parameters(model)
        params = [p for p in model.parameters() if p.requires_grad]  # ADORE freezes its passage tower
        decay = [p for n, p in model.named_parameters() if p.requires_grad and not _no_decay(n)]
        no_decay = [p for n, p in model.named_parameters() if p.requires_grad and _no_decay(n)]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr, fused=self.device.type == "cuda")
        self.params = params
        steps_per_epoch = sampler.batches_per_epoch() // config.grad_accum
        if steps_per_epoch == 0:
            raise InputError(f"{len(sampler.examples)} training examples make no batch of {config.batch_size}"
                             f" x {config.grad_accum}")
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = steps_per_epoch * config.epochs
        if config.max_steps:
            self.total_steps = min(self.total_steps, config.max_steps)
        from transformers import get_linear_schedule_with_warmup

        warmup = config.warmup_steps or int(config.warmup_ratio * self.total_steps)
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, warmup, self.total_steps)
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
    def represent(self, batch: Batch) -> tuple:
        """The recipe's representations of (a chunk of) this rank's batch, under the training autocast."""
        with self._autocast():
            return self.recipe.represent(self.model, batch)

    def batch_loss(self, reps: tuple, groups, extras: dict) -> torch.Tensor:
        """The recipe's loss of the global batch: every rank's representations gathered (its own keep their
        gradient), unless the recipe's loss is local to each rank."""
        if not self.recipe.local_loss:
            reps = tuple(gather(r, self.world, self.rank) if r is not None else None for r in reps)
        return self.recipe.loss(*reps, groups, extras)

    def _backward(self, batch: Batch, groups, scale: float) -> torch.Tensor:
        """The micro-batch's loss (detached, left on the device: no synchronization per step)."""
        if self.config.grad_cache_chunk:
            return backward_cached(batch, self.config.grad_cache_chunk, self.represent,
                                   lambda reps: self.batch_loss(reps, groups, batch.extras), scale, self.device)
        loss = self.batch_loss(self.represent(batch), groups, batch.extras)
        (loss * (scale / self.world if self.recipe.local_loss else scale)).backward()
        return loss.detach()

    def _sync_gradients(self) -> None:
        if self.world > 1:
            sum_gradients(self.params)

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
        save_state(self.config.output, {  # tied towers share storage: saved once
            "step": self.step, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": rng_state(self.device),
            "recipe": self.recipe.state_dict(), "best": self.best, "train_seconds": self.train_seconds,
            "config": self.config.to_dict(), "recipe_name": self.recipe.name})

    def _resume(self) -> bool:
        found = load_state(self.config.output)
        if found is None:
            return False
        state, path = found
        check_same_run(state, self.config.to_dict(), self.recipe.name, path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.recipe.load_state_dict(state["recipe"])
        self.step, self.best, self.train_seconds = state["step"], state["best"], state["train_seconds"]
        set_rng_state(state["rng"], self.device)
        if self.rank == 0:
            truncate_logs(self.config.output, self.step)
        return True

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
        self.recipe.warm(self.tokens)  # the batches' passages, tokenized in one call
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
