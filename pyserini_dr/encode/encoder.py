"""DenseEncoder: a query tower and a passage tower (often one model) that turn text into vectors."""
from __future__ import annotations

import contextlib
import functools
import os
import re
from typing import Sequence

import numpy as np
import torch

from ..data.corpus import flat_text
from .settings import EncoderSettings, model_file
from .families import TOWER_DIRS, check_lengths, reading_checkpoint, resolve_settings
from .forward import eager_vectors
from .pooling import passage_code
from .tokenize import passage_tokenizer

TOWERS = TOWER_DIRS  # sub-folders of a checkpoint with separate towers (PAIR, DPR-style)


def drhard_text(text: str, specials: Sequence[str] = ()) -> str:
    """``text`` as DRhard's RobertaTokenizer (transformers 2.8, DRhard ``star_tokenizer.py``, loaded with
    ``do_lower_case=True`` by ``preprocess.py``) hands it to byte-level BPE in ``encode(text, add_special_tokens=True)``,
    for a fast tokenizer that adds no prefix space: ``prepare_for_tokenization`` puts a space before a text that does
    not start with whitespace (the first word becomes "Ġword", as every other word); ``lowercase_text`` lowers one
    character at a time (so no final-sigma rule); ``split_on_token`` drops the whitespace before a special token's
    string and at the end."""
    if text and not text[0].isspace():
        text = " " + text
    text = "".join(map(str.lower, text)) if "\u03a3" in text else text.lower()
    if specials and any(s in text for s in specials):
        text = re.sub(r"\s+(?=" + "|".join(map(re.escape, specials)) + ")", "", text)
    return text.rstrip()


def load_model(path: str, settings: EncoderSettings, dtype: torch.dtype):
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    if os.environ.get("PYSERINI_DR_QUIET"):
        hf_logging.disable_progress_bar()  # "Loading weights" would precede a one-line error

    if settings.head != "none":
        from .models import load_head_model
        return load_head_model(path, settings.head, dtype)
    return AutoModel.from_pretrained(path, dtype=dtype)


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json")


def load_tokenizer(path: str, settings: EncoderSettings | None = None):
    """The checkpoint's tokenizer; for DKRR, bert-base-uncased's where the checkpoint holds none (Pyserini's
    DkrrDprQueryEncoder and FiD's generate_passage_embeddings.py always load bert-base-uncased's). Transformers 5
    makes an empty tokenizer (special tokens only) of a directory without one, so the files are looked for."""
    from transformers import AutoTokenizer

    if settings is not None and settings.family == "dkrr" and \
            not any(model_file(path, name) for name in TOKENIZER_FILES):
        return AutoTokenizer.from_pretrained("bert-base-uncased")
    return AutoTokenizer.from_pretrained(path)


class DenseEncoder:
    """Encodes queries and passages with a family's conventions.

    Also a pyserini query encoder: ``encode(query)`` and ``encode_batch(queries)`` return numpy vectors, so an
    instance can be handed to ``pyserini.search.faiss.FaissSearcher`` and ``HybridSearcher``.
    """

    def __init__(self, model: str, settings: EncoderSettings | None = None, *, encoder_class: str | None = None,
                 device: str = "cpu", dtype: str | torch.dtype = "float32", **overrides):
        model = os.fspath(model)
        self.name = model
        self.settings = settings or resolve_settings(model, encoder_class, **overrides)
        self.device = torch.device(device)
        requested = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        # bfloat16 on a CPU is autocast: float32 weights, matrix products in bfloat16 (AVX512-BF16 / AMX), layer
        # norms and softmax in float32; whole-bfloat16 weights would round every layer norm too
        self.cpu_autocast = self.device.type == "cpu" and requested == torch.bfloat16
        self.dtype = torch.float32 if self.cpu_autocast else requested
        query_path = passage_path = model
        if os.path.isdir(os.path.join(model, TOWERS[0])):
            query_path, passage_path = (os.path.join(model, t) for t in TOWERS)
        with reading_checkpoint(model):
            self.tokenizer = load_tokenizer(query_path, self.settings)
            self.query_model = self._load(query_path)
            self.passage_model = self.query_model if passage_path == query_path else self._load(passage_path)
            self.passage_tokenizer = (self.tokenizer if passage_path == query_path
                                      else load_tokenizer(passage_path, self.settings))

    def _load(self, path):
        return load_model(path, self.settings, self.dtype).to(self.device).eval()

    def check_lengths(self, *, passage: int | None = None, query: int | None = None) -> None:
        """Refuses a length a user asked for (``--max-length``, ``--query-max-length``) beyond the model's
        positions."""
        check_lengths(self.name, self.passage_model.config, {"--max-length": passage})
        check_lengths(self.name, self.query_model.config, {"--query-max-length": query})

    @functools.cached_property
    def dimension(self) -> int:
        return int(self.encode_queries(["dimension probe"]).shape[1])

    # -- text preparation ------------------------------------------------------------------------------------
    def _case(self, text: str) -> str:
        if self.settings.drhard_text:
            return drhard_text(text, self.tokenizer.all_special_tokens)
        return text.lower() if self.settings.lowercase else text

    def tokenize_queries(self, queries: Sequence[str]) -> dict:
        s = self.settings
        texts = [self._case(f"{s.query_prefix}{q}{s.query_suffix}") for q in queries]
        return self.tokenizer(texts, max_length=s.query_max_length or None, truncation=True, padding=True,
                              add_special_tokens=s.special_tokens, return_tensors="pt")

    def _passage_inputs(self, passages: Sequence[tuple[str, str]]) -> list:
        """Texts (or (title, text) pairs for pair-input families) as the family feeds them to the tokenizer."""
        s = self.settings
        if s.passage_template:
            texts = [s.passage_template.format(title=t, text=x) for t, x in passages]
        elif s.title == "pair":
            return [(self._case(f"{s.passage_prefix}{t or s.empty_title}"), self._case(x)) for t, x in passages]
        elif s.title == "titled-pair":  # a str where the title is empty
            return [(self._case(f"{s.passage_prefix}{t}"), self._case(x)) if t else self._case(f"{s.passage_prefix}{x}")
                    for t, x in passages]
        elif s.title == "concat":
            texts = [flat_text(t, x) for t, x in passages]
        else:
            texts = [x for _, x in passages]
        return [self._case(f"{s.passage_prefix}{x}") for x in texts]

    @property
    def pair_input(self) -> bool:
        """Passages go to the tokenizer as (title, text) pairs."""
        return self.settings.title in ("pair", "titled-pair") and not self.settings.passage_template

    def passage_ids(self, passages: Sequence[tuple[str, str]]) -> dict:
        """Unpadded token ids (and segment ids for pair input) per passage, as numpy arrays; batch with ``pad``.

        Uses the fast tokenizer's Rust backend directly (no per-token Python objects), set to the same
        truncation as ``tokenizer(..., max_length=L, truncation="longest_first")``, with ``PassageTokenizer``'s
        exact shortcuts for single texts (a word-aligned prefix of long texts; ASCII normalized in Python).
        """
        s = self.settings
        inputs = self._passage_inputs(passages)
        if s.title == "titled-pair" and not s.passage_template:
            features = self._mixed_ids(inputs)
        else:
            features = self._ids(inputs, self.pair_input)
        if not s.pair_segments:  # DPR's encoders are given no token_type_ids: all segment 0
            features["token_type_ids"] = None
        return features

    def _ids(self, inputs: list, pair: bool) -> dict:
        backend = self.rust_tokenizer()
        if backend is not None:
            return backend.features(inputs, pair)
        # a slow (Python) tokenizer, or a family that writes its own markers (no special tokens)
        enc = self.passage_tokenizer([a for a, _ in inputs] if pair else inputs,
                                     *([[b for _, b in inputs]] if pair else []),
                                     max_length=self.settings.passage_max_length, truncation="longest_first",
                                     add_special_tokens=self.settings.special_tokens)
        return {"input_ids": [np.asarray(x, dtype=np.int64) for x in enc["input_ids"]],
                "token_type_ids": [np.asarray(x, dtype=np.int64) for x in enc["token_type_ids"]] if pair else None}

    def _mixed_ids(self, inputs: list) -> dict:
        """``titled-pair``: the (title, text) pairs and the lone texts tokenized apart, back in their order (a lone
        text's segment ids all 0)."""
        rows = {True: [], False: []}
        for i, x in enumerate(inputs):
            rows[isinstance(x, tuple)].append(i)
        ids: list = [None] * len(inputs)
        types: list = [None] * len(inputs)
        for pair, where in rows.items():
            if where:
                got = self._ids([inputs[i] for i in where], pair)
                for k, i in enumerate(where):
                    ids[i] = got["input_ids"][k]
                    types[i] = got["token_type_ids"][k] if pair else np.zeros_like(ids[i])
        return {"input_ids": ids, "token_type_ids": types}

    def rust_tokenizer(self):
        """The passage tokenizer's Rust backend set to the family's truncation (a ``PassageTokenizer``), or None for
        a slow tokenizer."""
        if not hasattr(self, "_rust"):
            self._rust = (passage_tokenizer(self.passage_tokenizer, self.settings.passage_max_length)
                          if self.settings.special_tokens else None)
        return self._rust

    def pad(self, features: dict, rows: Sequence[int] | None = None, shape: tuple[int, int] | None = None) -> dict:
        """Right-pad the chosen rows of ``passage_ids`` output into tensors (input_ids, attention_mask, types); to
        ``shape`` (rows, width) where given, the rows past the passages holding one attended pad token (so that no
        row's attention is empty)."""
        rows = range(len(features["input_ids"])) if rows is None else rows
        lengths = np.fromiter((len(features["input_ids"][i]) for i in rows), dtype=np.int64)
        pad_id = self.passage_tokenizer.pad_token_id or 0
        filler = []
        if shape is not None:
            filler = [np.full(shape[0] - len(lengths), pad_id, dtype=np.int64)]
            lengths = np.concatenate([lengths, np.ones(shape[0] - len(lengths), dtype=np.int64)])
        width = shape[1] if shape is not None else lengths.max()
        mask = np.arange(width) < lengths[:, None]  # row-major True cells = the ids in order, no loop
        ids = np.full(mask.shape, pad_id, dtype=np.int64)
        ids[mask] = np.concatenate([features["input_ids"][i] for i in rows] + filler)
        types = None
        if features.get("token_type_ids"):
            types = np.zeros(mask.shape, dtype=np.int64)
            types[mask] = np.concatenate([features["token_type_ids"][i] for i in rows] +
                                         [np.zeros_like(f) for f in filler])
        mask = mask.astype(np.int64)
        batch = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
        if types is not None:
            batch["token_type_ids"] = torch.from_numpy(types)
        return batch

    def tokenize_passages(self, passages: Sequence[tuple[str, str]]) -> dict:
        """One padded batch of passages (title, text), as the family tokenizes them."""
        return self.pad(self.passage_ids(passages))

    # -- encoding --------------------------------------------------------------------------------------------
    def precision(self):
        """The context the model runs in: bfloat16 autocast on a CPU where asked for, else nothing."""
        if self.cpu_autocast:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.inference_mode()
    def _encode(self, model, batch: dict) -> torch.Tensor:
        with self.precision():
            return eager_vectors(self.settings, model, batch, self._to_device).float()

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        return self._pinned(tensor).to(self.device, non_blocking=True)

    def _pinned(self, tensor: torch.Tensor) -> torch.Tensor:
        """A host tensor in page-locked memory where it goes to a GPU: a copy from pageable memory can make the
        launching thread wait for the work already queued on the device."""
        if self.device.type == "cuda" and not tensor.is_cuda and not tensor.is_pinned():
            return tensor.pin_memory()
        return tensor

    def encode_queries(self, queries: Sequence[str], batch_size: int = 256) -> np.ndarray:
        out = [self._encode(self.query_model, self.tokenize_queries(queries[i:i + batch_size])).cpu()
               for i in range(0, len(queries), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)

    def encode_passages_tensor(self, passages: Sequence[tuple[str, str]]) -> torch.Tensor:
        """One batch of passages, as a float32 tensor on the encoder's device."""
        return passage_code(self.settings, self._encode(self.passage_model, self.tokenize_passages(passages)))

    def encode_passages(self, passages: Sequence[tuple[str, str]], batch_size: int = 64) -> np.ndarray:
        out = [self.encode_passages_tensor(passages[i:i + batch_size]).cpu()
               for i in range(0, len(passages), batch_size)]
        return torch.cat(out).numpy()

    # -- pyserini's QueryEncoder interface -------------------------------------------------------------------
    def encode(self, query: str, **_) -> np.ndarray:
        return self.encode_queries([query])[0]

    def encode_batch(self, queries: Sequence[str]) -> np.ndarray:
        return self.encode_queries(list(queries))

    def describe(self) -> dict:
        """What an index's meta.json records about the encoder that made it."""
        return {"model": self.name, "encoder_class": self.settings.family, **self.settings.to_dict(),
                "dtype": "bfloat16-autocast" if self.cpu_autocast else str(self.dtype).replace("torch.", "")}
