"""The training recipes: what negatives each method uses, when it re-mines them, and its loss; one module each.

- ``warmup`` (ANCE's BM25 warm-up; DPR): in-batch negatives + BM25 hard negatives from the training file.
- ``ance`` (Xiong et al., ICLR 2021): hard negatives re-mined from the current model's own index.
- ``star`` (Zhan et al., SIGIR 2021): static hard negatives from the starting model's index, DRhard's pairwise loss.
- ``adore`` (same paper): only the query encoder trains, against fixed passage vectors, retrieving each step.
- ``tasb`` (Hofstätter et al., SIGIR 2021): topic-clustered, margin-balanced batches; Margin-MSE distillation.
- ``pair`` (Ren et al., 2021): query-centric + alpha x passage-centric loss; two runs make its two stages.
- ``simlm-pretrain`` / ``simlm`` (Wang et al., 2022): bottleneck pre-training on the corpus; fine-tuning with
  hard negatives and KL distillation from the teacher.
- ``cross-encoder``: a BERT_CAT re-ranker trained on the same groups (the teacher of the distillation recipes).

Each recipe declares its options (``options_class``, a dataclass whose fields carry their flags); ``RECIPES`` is in
the order ``train.options`` registers those flags.
"""
from __future__ import annotations

from .adore import ADORE, AdoreOptions
from .ance import ANCE, AnceOptions
from .base import MiningOptions, NoOptions, Recipe, TeacherOptions
from .cross_encoder import CrossEncoderTraining
from .pair import PAIR, PairOptions
from .simlm import SimLM, SimLMOptions, SimLMPretrain, SimLMPretrainOptions
from .star import STAR, StarOptions
from .tasb import TASB, TasbOptions
from .warmup import ContrastiveOptions, Warmup

RECIPES = {r.name: r for r in (Warmup, ANCE, STAR, ADORE, TASB, PAIR, SimLM, SimLMPretrain, CrossEncoderTraining)}

__all__ = ["ADORE", "ANCE", "PAIR", "RECIPES", "STAR", "TASB", "AdoreOptions", "AnceOptions", "ContrastiveOptions",
           "CrossEncoderTraining", "MiningOptions", "NoOptions", "PairOptions", "Recipe", "SimLM", "SimLMOptions",
           "SimLMPretrain", "SimLMPretrainOptions", "StarOptions", "TasbOptions", "TeacherOptions", "Warmup"]
