"""The Rust tokenizer, configured like ``tokenizer(..., max_length=L, truncation="longest_first")``."""
from __future__ import annotations

import numpy as np


def configured(tokenizer_json: str, max_length: int):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json)
    tok.enable_truncation(max_length, strategy="longest_first")
    tok.no_padding()
    return tok


def to_features(encodings, with_types: bool) -> dict:
    return {"input_ids": [np.asarray(e.ids, dtype=np.int64) for e in encodings],
            "token_type_ids": [np.asarray(e.type_ids, dtype=np.int64) for e in encodings] if with_types else None}
