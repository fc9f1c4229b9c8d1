"""Dense encoders for TAS-B, ANCE, STAR/ADORE, SimLM, PAIR, any HF/sentence-transformers model, and Pyserini 1.6's
text encoder classes (DPR, BPR, DKRR, TCT-ColBERT, sentence, Contriever, Aggretriever, CosDPR, Arctic).

Importing this package needs torch and transformers only: no pyserini, Java or faiss (it runs on the GPU box).
"""
from .settings import EncoderSettings
from .families import FAMILIES, PRESETS, guess_family, resolve_settings

__all__ = ["EncoderSettings", "FAMILIES", "PRESETS", "guess_family", "resolve_settings", "DenseEncoder"]


def __getattr__(name):  # torch is imported only when an encoder is actually built
    if name == "DenseEncoder":
        from .encoder import DenseEncoder
        return DenseEncoder
    raise AttributeError(name)
