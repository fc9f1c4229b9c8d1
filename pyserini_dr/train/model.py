"""The bi-encoder being trained: a ``DenseEncoder``'s query and passage towers with its pooling and normalization.

Saved as a checkpoint that ``DenseEncoder`` (and so every CLI) loads: ``save_pretrained`` + tokenizer +
``encoder_settings.json``; a model with separate towers (ADORE's query encoder over STAR's passages) as
``query_encoder/`` and ``passage_encoder/`` sub-folders.
"""
from __future__ import annotations

import copy
import json
import os

import torch

from ..encode.encoder import TOWERS, DenseEncoder
from ..encode.pooling import model_inputs, pool
from ..files import atomic_directory
from ..encode.settings import SETTINGS_FILE


class BiEncoder(torch.nn.Module):
    def __init__(self, encoder: DenseEncoder, *, untie: bool = False, freeze_passages: bool = False):
        super().__init__()
        self.encoder = encoder
        self.settings = encoder.settings
        self.query_model = encoder.query_model
        if untie and encoder.passage_model is encoder.query_model:
            encoder.passage_model = copy.deepcopy(encoder.query_model)
        self.passage_model = encoder.passage_model
        self.tied = self.passage_model is self.query_model
        if freeze_passages:
            if self.tied:
                raise ValueError("freeze_passages needs separate towers (untie=True)")
            self.passage_model.requires_grad_(False)

    @classmethod
    def load(cls, model: str, *, device: str = "cpu", encoder_class: str | None = None, untie: bool = False,
             freeze_passages: bool = False, **settings_overrides) -> "BiEncoder":
        """Float32 weights (autocast gives bf16 compute) with the family's settings."""
        encoder = DenseEncoder(model, encoder_class=encoder_class, device=device, dtype=torch.float32,
                               **settings_overrides)
        encoder.check_lengths(passage=settings_overrides.get("passage_max_length"),
                              query=settings_overrides.get("query_max_length"))
        return cls(encoder, untie=untie, freeze_passages=freeze_passages)

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    def _rep(self, model, batch: dict) -> torch.Tensor:
        return pool(self.settings, model, model_inputs(model, batch))

    def encode_queries(self, batch: dict) -> torch.Tensor:
        return self._rep(self.query_model, batch)

    def encode_passages(self, batch: dict) -> torch.Tensor:
        return self._rep(self.passage_model, batch)

    def save(self, directory: str) -> None:
        """Write the checkpoint to a temporary folder and rename it into place: a crash leaves the old one."""
        towers = [("", self.query_model, self.encoder.tokenizer)] if self.tied else [
            (TOWERS[0], self.query_model, self.encoder.tokenizer),
            (TOWERS[1], self.passage_model, self.encoder.passage_tokenizer)]
        with atomic_directory(directory) as tmp:
            for sub, model, tokenizer in towers:
                path = os.path.join(tmp, sub)
                model.save_pretrained(path)
                tokenizer.save_pretrained(path)
                self._write_settings(path)
            if not self.tied:
                self._write_settings(tmp)

    def _write_settings(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, SETTINGS_FILE), "w") as f:
            json.dump(self.settings.to_dict(), f, indent=1)
