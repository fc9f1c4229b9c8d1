"""Encoder settings: everything that must match between the vectors of a corpus and the queries searched."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace

from ..errors import InputError

HEADS = ("none", "linear-layernorm", "dpr", "cosdpr", "aggretriever")
SETTINGS_FILE = "encoder_settings.json"  # saved beside a checkpoint by our trainers; overrides family guessing


@dataclass(frozen=True)
class EncoderSettings:
    family: str = "auto"
    pooling: str = "cls"            # cls | mean
    l2_norm: bool = False
    head: str = "none"              # none | linear-layernorm (ANCE, STAR, ADORE: RobertaDot's embeddingHead + norm) |
                                    # dpr (DPR's pooler_output) | cosdpr (Linear, then L2) | aggretriever
    query_max_length: int = 256     # 0: the tokenizer's model_max_length (Pyserini's AutoQueryEncoder in search.faiss)
    passage_max_length: int = 256
    title: str = "concat"           # concat: "title text"; pair: tokenizer(title, text); none: text only;
                                    # titled-pair: a pair where the title is not empty, else the text alone (DPR)
    empty_title: str = ""           # the title given to a titleless passage in pair mode (SimLM: "-")
    lowercase: bool = False         # lowercase text before tokenizing (ANCE/STAR/ADORE were trained on lowercased text)
    drhard_text: bool = False       # STAR/ADORE: the text as DRhard's transformers-2.x RobertaTokenizer saw it
    query_prefix: str = ""
    passage_prefix: str = ""
    # Pyserini's other text encoder classes (pyserini/encode/_*.py)
    query_suffix: str = ""          # TCT-ColBERT: "[MASK]" * 36 after the query, cut at 36 tokens
    passage_template: str = ""      # "{title}" and "{text}" in place of ``title`` (DKRR: FiD's "title: .. context: ..")
    special_tokens: bool = True     # the tokenizer adds [CLS] / [SEP] (TCT-ColBERT writes its own markers: False)
    skip_tokens: int = 0            # tokens the mean leaves out (TCT-ColBERT: its "[CLS] [Q] " / "[CLS] [D] " markers)
    pair_segments: bool = True      # pair input with segment ids 0 / 1 (DPR's encoders see all-zero segment ids)
    binary_passages: bool = False   # BPR: a passage's vector is its sign (+1 / -1), the binary code BPR indexes

    def __post_init__(self):
        if self.pooling not in ("cls", "mean"):
            raise InputError(f"unknown pooling {self.pooling!r} (cls or mean)")
        if self.title not in ("concat", "pair", "titled-pair", "none"):
            raise InputError(f"unknown title handling {self.title!r} (concat, pair, titled-pair or none)")
        if self.head not in HEADS:
            raise InputError(f"unknown head {self.head!r}")

    def with_overrides(self, **overrides) -> "EncoderSettings":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "EncoderSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def saved_settings(model_dir: str) -> EncoderSettings | None:
    path = os.path.join(model_dir, SETTINGS_FILE)
    if os.path.isfile(path):
        with open(path) as f:
            return EncoderSettings.from_dict(json.load(f))
    return None


def model_file(model: str, name: str) -> str | None:
    """The path of file ``name`` (``1_Pooling/config.json``) of a model directory or hub name, None where it has
    none. A hub name is read as ``from_pretrained`` reads it: through the Hugging Face cache, downloading where
    the hub is reachable (``HF_HUB_OFFLINE`` respected)."""
    if os.path.isdir(model):
        path = os.path.join(model, name)
        return path if os.path.isfile(path) else None
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (EntryNotFoundError, HFValidationError, LocalEntryNotFoundError,
                                            RepositoryNotFoundError, RevisionNotFoundError)
    except ImportError:
        return None
    try:
        return hf_hub_download(model, name)
    except (EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
            HFValidationError, OSError):
        return None  # no such file, or neither cached nor reachable: from_pretrained will say why if it matters


def sentence_transformers_settings(model: str) -> dict:
    """Pooling, normalization and max length from a sentence-transformers model's own config files, for a
    directory or a hub name alike (``sentence-transformers/all-MiniLM-L6-v2`` is mean-pooled and normalized:
    taking the family default, CLS, would build a wrong index without a word)."""
    modules_path = model_file(model, "modules.json")
    if modules_path is None:
        return {}
    with open(modules_path) as f:
        modules = json.load(f)
    found: dict = {"l2_norm": any(m.get("type", "").endswith(".Normalize") for m in modules)}
    for m in modules:
        if m.get("type", "").endswith(".Pooling"):
            pooling_path = model_file(model, f"{m['path']}/config.json")
            if pooling_path is None:
                raise InputError(f"{model}: its modules.json names a pooling module without {m['path']}/config.json")
            with open(pooling_path) as f:
                pooling = json.load(f)
            if pooling.get("pooling_mode_mean_tokens"):
                found["pooling"] = "mean"
            elif pooling.get("pooling_mode_cls_token"):
                found["pooling"] = "cls"
            else:
                modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
                raise InputError(f"{model}: unsupported sentence-transformers pooling {modes}")
    config = model_file(model, "sentence_bert_config.json")
    if config is not None:
        with open(config) as f:
            max_len = json.load(f).get("max_seq_length")
        if max_len:
            found["query_max_length"] = found["passage_max_length"] = int(max_len)
    return found
