"""The fast passage tokenizers: the same ids as the model's own tokenizer, sooner (exact shortcuts around the Rust
tokenizer, BERT's WordPiece in Python for ASCII text), in this process or in worker processes.

``passage_tokenizer`` is the one way in for the rest of ``encode``; ``TokenizerProcesses`` runs a tokenizer it
returns in worker processes, owned (started and closed) by whoever makes it.
"""
from __future__ import annotations

from .passages import PassageTokenizer
from .workers import TokenizerProcesses, default_processes

__all__ = ["PassageTokenizer", "TokenizerProcesses", "default_processes", "passage_tokenizer"]


def passage_tokenizer(tokenizer, max_length: int) -> PassageTokenizer | None:
    """A ``PassageTokenizer`` for a Hugging Face fast tokenizer, cutting passages at ``max_length`` tokens; None for a
    slow (Python) tokenizer, which the caller runs itself."""
    backend = getattr(tokenizer, "_tokenizer", None)
    return PassageTokenizer(backend.to_str(), max_length) if backend else None
