"""A tokenized batch to the family's vector: the model's inputs, its forward, then the head or pooling.

Shared by inference (``DenseEncoder``, ``forward``) and training, so that both compute the same vector.
"""
from __future__ import annotations

import torch

from .settings import EncoderSettings


def pool(settings: EncoderSettings, model, batch: dict) -> torch.Tensor:
    """The family's vector for a tokenized batch: head or pooling, then optional L2 normalization, in float32."""
    return pool_with_mask(settings, model, batch, batch["attention_mask"])


def pool_with_mask(settings: EncoderSettings, model, batch: dict, model_mask) -> torch.Tensor:
    """``pool`` with ``model_mask`` given to the model in place of the batch's attention mask (pooling still uses the
    batch's): None where no row is padded, or a prepared 4D mask (``forward.host_model_mask``). Both give the same
    computation without HF's test of a 2D mask on the device (``mask.all()``), which waits for the device at every
    batch."""
    if settings.head in ("linear-layernorm", "cosdpr", "aggretriever"):  # the model's forward ends in its head
        out = model(input_ids=batch["input_ids"], attention_mask=model_mask)
    elif settings.head == "dpr":
        out = model(**{**batch, "attention_mask": model_mask}).pooler_output
    else:
        hidden = model(**{**batch, "attention_mask": model_mask}).last_hidden_state
        if settings.pooling == "cls":
            out = hidden[:, 0]
        else:
            # the masked mean of pyserini/encode/_base.py (DocumentEncoder._mean_pooling) and _dkrr.py; TCT-ColBERT's
            # (_tct_colbert.py) leaves out its "[CLS] [Q] " / "[CLS] [D] " markers: hidden[:, 4:], mask[:, 4:]
            skip = settings.skip_tokens
            mask = batch["attention_mask"][:, skip:].unsqueeze(-1).to(hidden.dtype)
            out = (hidden[:, skip:] * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    out = out.float()
    if settings.l2_norm and settings.head != "cosdpr":  # CosDPR's forward normalizes
        out = torch.nn.functional.normalize(out, dim=-1)
    return out


def passage_code(settings: EncoderSettings, vectors: torch.Tensor) -> torch.Tensor:
    """A passage's vector as the family indexes it: BPR's binary code (+1, -1 where the vector is negative, as
    Pyserini's ``BprQueryEncoder.convert_to_binary_code``, pyserini/encode/_bpr.py), else the vector itself."""
    if settings.binary_passages:
        return vectors.new_ones(vectors.size()).masked_fill_(vectors < 0, -1.0)
    return vectors


def model_inputs(model, batch: dict) -> dict:
    """The batch without token_type_ids where the model takes none (``_takes_token_types``)."""
    if "token_type_ids" in batch and not _takes_token_types(model):
        return {k: v for k, v in batch.items() if k != "token_type_ids"}
    return batch


def _takes_token_types(model) -> bool:
    """RoBERTa has one segment, DistilBERT none: their token_type_ids are dropped. Remembered on the model itself
    (a cache keyed by model would keep every model, e.g. ANCE's refresh snapshots, alive)."""
    import inspect

    known = getattr(model, "_pyserini_dr_token_types", None)
    if known is None:
        known = getattr(model.config, "type_vocab_size", 0) >= 2 and \
            "token_type_ids" in inspect.signature(model.forward).parameters
        model._pyserini_dr_token_types = known
    return known
