"""``simlm-pretrain`` / ``simlm`` (Wang et al., 2022): bottleneck pre-training on the corpus; fine-tuning with hard
negatives and KL distillation from the teacher."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...errors import InputError
from ..batches import Batch
from ..losses import full_contrastive
from .base import Recipe, TeacherOptions, flag
from .warmup import ContrastiveOptions, Warmup
from ...arg_types import non_negative_real, positive


@dataclass
class SimLMOptions(ContrastiveOptions, TeacherOptions):
    contrastive_weight: float = flag(0.2, type=non_negative_real, help="simlm: weight of the contrastive term (unilm's "
                                     "kd_cont_loss_weight)")
    kl_weight: float = flag(1.0, type=non_negative_real, help="simlm: weight of the KL distillation term")
    simlm_qp_only: bool = flag(False, action="store_true", help="simlm: the contrastive term scores q->p only, "
                               "not SimLM's q->p, p->q, q->q and p->p")


@dataclass
class SimLMPretrainOptions:
    decoder_layers: int = flag(2, type=positive, help="simlm-pretrain: the shallow decoder's layers")


class SimLMPretrain(Recipe):
    """SimLM's bottleneck pre-training on the unlabelled corpus (``bottleneck.BottleneckPretrainer``, MLM variant):
    every corpus document is one example; encoder and decoder copies masked at 30% and 50%."""
    name = "simlm-pretrain"
    options_class = SimLMPretrainOptions
    grad_cache = False
    local_loss = True  # each rank's loss is its own share: the trainer scales its gradient by 1 / ranks
    model_kind = "bottleneck"
    needs_passages = False
    uses_negatives = False
    encoder_rate, decoder_rate = 0.3, 0.5

    def make_batch(self, trainer, groups):
        import hashlib

        import numpy as np

        from ..bottleneck import mask_tokens

        features = trainer.tokens.passages([g.positive for g in groups])
        ids, attention = features["input_ids"].numpy(), features["attention_mask"].numpy()
        tokenizer = trainer.model.encoder.passage_tokenizer
        special = np.isin(ids, tokenizer.all_special_ids) | (attention == 0)
        key = hashlib.sha256(f"{self.seed}:{','.join(g.positive for g in groups)}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(key[:8], "little"))  # the same masks for the same batch
        enc, enc_labels = mask_tokens(ids, special, self.encoder_rate, tokenizer.mask_token_id, rng)
        dec, dec_labels = mask_tokens(ids, special, self.decoder_rate, tokenizer.mask_token_id, rng)
        t = torch.from_numpy
        return Batch(groups, {"attention_mask": t(attention), "encoder_ids": t(enc), "encoder_labels": t(enc_labels),
                              "decoder_ids": t(dec), "decoder_labels": t(dec_labels)}, {})

    def represent(self, model, batch):
        """The model's own loss over this rank's documents (``local_loss``: not gathered)."""
        return (model(batch.queries),)

    def loss(self, mlm_loss, groups, extras):
        return mlm_loss


class SimLM(Warmup):
    """SimLM's fine-tuning with distillation (microsoft/unilm simlm/src/models/biencoder_model.py,
    ``BiencoderModel.forward`` with do_kd_biencoder; simlm/scripts/train_kd_biencoder.sh): ``contrastive_weight``
    (0.2) x SimLM's full contrastive loss (``losses.full_contrastive``: q->p, p->q, q->q, p->p over in-batch and
    hard negatives) + ``kl_weight`` (1) x KL(teacher || student) over each query's own group [positive, negatives],
    the teacher's scores from the cross-encoder's file (a group it did not fully score has no KL term), the
    student's divided by the temperature (0.02 for an L2-normalized model, the script's --t). The script's group
    is a positive and 23 hard negatives (--train_n_passages 24: ``--negatives 23``), 16 queries per GPU. Old
    behaviour: ``--contrastive-weight 1 --kl-weight 0.2 --simlm-qp-only --temperature 0.05``."""
    name = "simlm"
    options_class = SimLMOptions
    normalized_temperature = 0.02

    def __init__(self, options, sampler, ranker, **kwargs):
        super().__init__(options, sampler, ranker, **kwargs)
        from ..teacher import read_teacher_scores

        if not options.teacher_scores:
            raise InputError("the simlm recipe needs --teacher-scores (python -m pyserini_dr.rerank --train-data)")
        self.teacher = read_teacher_scores(options.teacher_scores)

    def prepare(self, groups):
        extras = super().prepare(groups)
        size = 1 + len(groups[0].negatives)
        scores = torch.zeros(len(groups), size)
        known = torch.zeros(len(groups), dtype=torch.bool)
        for i, g in enumerate(groups):
            t = self.teacher.get(g.query_id, {})
            docs = [g.positive, *g.negatives]
            if all(d in t for d in docs):
                scores[i] = torch.tensor([t[d] for d in docs])
                known[i] = True
        extras.update(teacher=scores, known=known)
        return extras

    def loss(self, q, p, groups, extras):
        if self.options.simlm_qp_only or self.options.no_in_batch:  # p->q, q->q and p->p are all in-batch
            contrastive_loss = super().loss(q, p, groups, extras)
        else:
            contrastive_loss = full_contrastive(q, p, temperature=self.temperature,
                                                false_negatives=extras["false_negatives"])
        contrastive_loss = self.options.contrastive_weight * contrastive_loss
        known = extras["known"]
        if not self.options.kl_weight or not bool(known.any()):
            return contrastive_loss
        size = p.shape[0] // q.shape[0]
        own = (q.float()[:, None, :] * p.float().view(q.shape[0], size, -1)).sum(-1) / self.temperature
        kl = F.kl_div(F.log_softmax(own[known], -1), F.softmax(extras["teacher"][known].float(), -1),
                      reduction="batchmean")
        return contrastive_loss + self.options.kl_weight * kl
