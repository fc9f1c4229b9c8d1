"""Cross-encoder re-ranking (BERT_CAT): ``[CLS] query [SEP] passage [SEP]`` -> one relevance score.

monoBERT's architecture (Nogueira & Cho, 2019), the teacher of TAS-B's Margin-MSE (Hofstätter et al., 2020/2021):
a transformer over the concatenated pair and a linear layer on the first token. Checkpoints are HF
``AutoModelForSequenceClassification`` with one label, the format of sentence-transformers' ``CrossEncoder`` and of
the ``cross-encoder/ms-marco-*`` models, so those load as they are. A passage is "title text", as the dense
encoders read it. Its scores, written as a TREC run, are the teacher-scores file the distillation recipes read.
"""
from __future__ import annotations

import contextlib
import json
import os
from typing import Sequence

import numpy as np
import torch

from ..encode.families import check_lengths, check_model_location, reading_checkpoint

SETTINGS_FILE = "cross_encoder.json"


class CrossEncoder(torch.nn.Module):
    def __init__(self, path: str, *, device: str = "cpu", max_length: int | None = None):
        super().__init__()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if os.environ.get("PYSERINI_DR_QUIET"):
            hf_logging.disable_progress_bar()
        path = os.fspath(path)
        check_model_location(path)
        saved = {}
        if os.path.isfile(os.path.join(path, SETTINGS_FILE)):
            with open(os.path.join(path, SETTINGS_FILE)) as f:
                saved = json.load(f)
        self.max_length = max_length or saved.get("max_length") or 256
        with reading_checkpoint(path):
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            # a bi-encoder checkpoint (e.g. all-MiniLM-L6-v2) starts a new head: the classifier is initialised here
            self.model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
        if max_length is not None:
            check_lengths(path, self.model.config, {"--max-length": max_length})
        self.to(device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def features(self, queries: Sequence[str], passages: Sequence[tuple[str, str]]) -> dict:
        from ..data.corpus import flat_text

        texts = [flat_text(t, x) for t, x in passages]
        return dict(self.tokenizer(list(queries), texts, max_length=self.max_length, truncation="longest_first",
                                   padding=True, return_tensors="pt"))

    def forward(self, features: dict) -> torch.Tensor:
        """[N] float32 scores of tokenized pairs."""
        return self.model(**features).logits[:, 0].float()

    @torch.no_grad()
    def score(self, queries: Sequence[str], passages: Sequence[tuple[str, str]], *, batch_size: int = 256,
              autocast_dtype=None) -> np.ndarray:
        was_training = self.training
        self.eval()
        out = []
        try:
            for i in range(0, len(queries), batch_size):
                batch = {k: v.to(self.device) for k, v in self.features(queries[i:i + batch_size],
                                                                          passages[i:i + batch_size]).items()}
                ctx = torch.autocast(self.device.type, dtype=autocast_dtype) if autocast_dtype else \
                    contextlib.nullcontext()
                with ctx:
                    out.append(self(batch).cpu())
        finally:
            self.train(was_training)
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)

    def rerank(self, topics: dict[str, str], run: dict[str, list[tuple[str, float]]],
               corpus: dict[str, tuple[str, str]], *, depth: int = 100, batch_size: int = 256, autocast_dtype=None,
               progress=None) -> dict[str, list[tuple[str, float]]]:
        """The top ``depth`` of each query's ranking, re-scored; queries without a topic text are skipped."""
        from ..data.runs import sort_hits

        out = {}
        for qid, hits in run.items():
            if qid not in topics:
                continue
            docids = [d for d, _ in sort_hits(hits)[:depth]]
            scores = self.score([topics[qid]] * len(docids), [corpus[d] for d in docids], batch_size=batch_size,
                                autocast_dtype=autocast_dtype)
            out[qid] = sort_hits(zip(docids, scores.tolist()))
            if progress is not None:
                progress(1)
        return out

    def save(self, directory: str) -> None:
        """Written beside, then renamed into place."""
        from ..files import atomic_directory

        with atomic_directory(directory) as tmp:
            self.model.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            with open(os.path.join(tmp, SETTINGS_FILE), "w") as f:
                json.dump({"max_length": self.max_length}, f)
