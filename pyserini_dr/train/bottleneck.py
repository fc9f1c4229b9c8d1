"""SimLM's representation-bottleneck pre-training model (Wang et al., 2022).

The encoder reads a corrupted passage; a shallow decoder (copies of the encoder's last layers) reads a more heavily
corrupted copy whose first position is replaced by the encoder's [CLS] vector, so everything the decoder knows about
the passage beyond its own corrupted input passes through that one vector. Both predict the original tokens at
their corrupted positions. SimLM corrupts with a generator's samples (replaced language modelling); no generator can
be downloaded here, so this is the MLM variant: corrupted positions get [MASK] (encoder rate 30%, decoder 50%, as
SimLM's mask rates). After pre-training only the encoder is kept (``save``), with [CLS] pooling.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .model import BiEncoder


def mask_tokens(ids: np.ndarray, special: np.ndarray, rate: float, mask_id: int, rng: np.random.Generator):
    """(corrupted ids, labels): ``rate`` of the non-special tokens become [MASK]; labels are the originals there and
    -100 elsewhere (at least one token per row is masked when the row has any)."""
    candidates = ~special
    chosen = (rng.random(ids.shape) < rate) & candidates
    for row in np.flatnonzero(~chosen.any(1) & candidates.any(1)):
        chosen[row, rng.choice(np.flatnonzero(candidates[row]))] = True
    corrupted = np.where(chosen, mask_id, ids)
    labels = np.where(chosen, ids, -100)
    return corrupted, labels


class BottleneckPretrainer(torch.nn.Module):
    def __init__(self, bi: BiEncoder, decoder_layers: int = 2):
        super().__init__()
        self.bi = bi
        encoder = bi.query_model
        if not hasattr(encoder, "embeddings") or not hasattr(encoder, "encoder"):
            raise InputError("bottleneck pre-training needs a BERT-style encoder (embeddings + encoder.layer)")
        if not 1 <= decoder_layers <= len(encoder.encoder.layer):
            raise InputError(f"--decoder-layers must be in [1, {len(encoder.encoder.layer)}] (the encoder's layers)")
        self.decoder = torch.nn.ModuleList(copy.deepcopy(layer) for layer in encoder.encoder.layer[-decoder_layers:])
        hidden = encoder.config.hidden_size
        self.transform = torch.nn.Sequential(torch.nn.Linear(hidden, hidden), torch.nn.GELU(),
                                             torch.nn.LayerNorm(hidden, eps=encoder.config.layer_norm_eps))
        self.lm_bias = torch.nn.Parameter(torch.zeros(encoder.config.vocab_size))
        self.to(bi.device)

    @property
    def device(self) -> torch.device:
        return self.bi.device

    @property
    def encoder(self):
        return self.bi.encoder

    def _lm_loss(self, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        keep = labels != -100
        if not bool(keep.any()):
            return hidden.sum() * 0.0
        words = self.bi.query_model.embeddings.word_embeddings.weight  # tied output embeddings, as BERT's MLM head
        logits = self.transform(hidden[keep]) @ words.T + self.lm_bias
        return F.cross_entropy(logits.float(), labels[keep])

    def forward(self, batch: dict) -> torch.Tensor:
        encoder = self.bi.query_model
        mask = batch["attention_mask"]
        out = encoder(input_ids=batch["encoder_ids"], attention_mask=mask).last_hidden_state
        enc_loss = self._lm_loss(out, batch["encoder_labels"])
        h = encoder.embeddings(input_ids=batch["decoder_ids"])
        h = torch.cat([out[:, :1], h[:, 1:]], dim=1)  # the bottleneck: position 0 is the encoder's [CLS] vector
        additive = (1.0 - mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self.decoder:
            h = layer(h, attention_mask=additive)
            h = h[0] if isinstance(h, tuple) else h
        return enc_loss + self._lm_loss(h, batch["decoder_labels"])

    def save(self, directory: str) -> None:
        """The encoder alone, as a bi-encoder checkpoint with [CLS] pooling (what the bottleneck trained)."""
        self.bi.settings = self.bi.encoder.settings = self.bi.settings.with_overrides(pooling="cls")
        self.bi.save(directory)
