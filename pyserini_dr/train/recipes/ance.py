"""``ance`` (Xiong et al., ICLR 2021): hard negatives re-mined every ``refresh_every`` steps from the current model's
own index (re-encode the corpus, exact top-``depth``, sample); with ``refresh_async`` the refresh runs on a snapshot
of the model in a background thread and training keeps the old negatives until it lands, as the paper's asynchronous
ANN refresh does. In-batch negatives are on unless ``--no-in-batch``, which gives the paper's per-query softmax over
the positive and its own hard negatives."""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

from ...errors import InputError
from .base import MiningOptions, flag
from .warmup import ContrastiveOptions, Warmup
from ...arg_types import non_negative


@dataclass
class AnceOptions(ContrastiveOptions, MiningOptions):
    refresh_every: int = flag(0, type=non_negative, help="ance: steps between refreshes (default: an epoch)")
    refresh_async: bool = flag(False, action="store_true", help="ance: refresh in the background")


class ANCE(Warmup):
    name = "ance"
    options_class = AnceOptions
    mines_negatives = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.refreshes = 0
        self.refresh_seconds = 0.0
        self._pending = None  # (thread, result dict) of an asynchronous refresh
        self._encoded = None  # (step, corpus vectors) the dev evaluation made for the refresh due at that step

    def _every(self, trainer) -> int:
        return self.options.refresh_every or trainer.steps_per_epoch

    def _refresh_now(self, model, docs=None) -> None:
        started = time.perf_counter()
        self.sampler.pools = self.mine(model, self.train_queries(), docs)
        self.refresh_seconds += time.perf_counter() - started
        self.refreshes += 1

    def start(self, trainer):
        self._refresh_now(trainer.model)  # the first ANN index: the starting (warm-up) model's

    def _land(self) -> None:
        """Wait for the background refresh and use its negatives (its error, if it failed, is raised here)."""
        thread, result = self._pending
        thread.join()
        self._pending = None
        if "error" in result:
            raise result["error"]
        self.sampler.pools = result["pools"]

    def before_step(self, trainer, step):
        changed = False
        if self._pending is not None and not self._pending[0].is_alive():
            self._land()
            changed = True
        encoded, self._encoded = self._encoded, None
        if step == 0 or step % self._every(trainer):
            return changed
        if not self.options.refresh_async:
            self._refresh_now(trainer.model, encoded[1] if encoded and encoded[0] == step else None)
            return True
        if trainer.world > 1:
            raise InputError("--refresh-async is for one process: ranks would take the new negatives at different "
                             "steps")
        if self._pending is None:
            snapshot = copy.deepcopy(trainer.model).eval()
            result: dict = {}

            def work():
                started = time.perf_counter()
                try:
                    result["pools"] = self.mine(snapshot, self.train_queries())
                except Exception as e:  # noqa: BLE001  (re-raised on the training thread by _land)
                    result["error"] = e
                self.refresh_seconds += time.perf_counter() - started
                self.refreshes += 1

            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            self._pending = (thread, result)
        return changed

    def passages_encoded(self, trainer, docs):
        """At an epoch end that is also a synchronous refresh (the default: both every epoch), the refresh ranks the
        evaluation's vectors instead of encoding the corpus a second time with the same weights."""
        due = trainer.step < trainer.total_steps and trainer.step % self._every(trainer) == 0
        if due and not self.options.refresh_async:
            self._encoded = (trainer.step, docs)

    def finish(self, trainer):
        if self._pending is not None:
            self._land()

    def state_dict(self) -> dict:
        """A refresh still running lands first: a checkpoint never loses one (async runs are not step-exact)."""
        if self._pending is not None:
            self._land()
        return {**super().state_dict(), "refreshes": self.refreshes, "refresh_seconds": self.refresh_seconds}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.refreshes, self.refresh_seconds = state.get("refreshes", 0), state.get("refresh_seconds", 0.0)

    def summary(self, trainer):
        return {"refreshes": self.refreshes, "refresh_seconds": round(self.refresh_seconds, 2),
                "refresh_share": round(self.refresh_seconds / max(trainer.train_seconds, 1e-9), 4)}
