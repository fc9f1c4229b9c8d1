"""``--preset NAME``: the training settings of a method's paper, read from its authors' scripts, as data.

Each preset is the ``python -m pyserini_dr.train`` option values (argparse destinations) that the authors' run
scripts use; the CLI makes them the parser's defaults, so a flag given on the command line wins. ``SOURCES`` names
the file each preset's values come from; ``DEVIATIONS`` what our trainer cannot do as the reference does and what
it does instead. docs/methods.md lists every value with its source.

Batch sizes are the queries of one optimizer micro-batch across all devices where the reference gathers in-batch
negatives across devices (PAIR's cross-batch), else the reference's per-device batch times its device count.
"""
from __future__ import annotations

from ..errors import InputError

LAMB = "LAMB is not implemented: AdamW with the same lr, weight decay and schedule"

PRESETS: dict[str, dict] = {
    "ance-warmup": dict(recipe="warmup", lr=2e-4, batch_size=32, epochs=2, warmup_steps=1000, negatives=1,
                        query_max_length=128, max_length=128, weight_decay=0.0, max_grad_norm=1.0),
    "ance": dict(recipe="ance", lr=1e-6, batch_size=32, grad_accum=2, warmup_steps=5000, negatives=1, depth=200,
                 query_max_length=64, max_length=512, weight_decay=0.0, max_grad_norm=1.0),
    "star": dict(recipe="star", lr=1e-4, batch_size=256, negatives=1, depth=200, warmup_steps=1000,
                 weight_decay=0.01, max_grad_norm=1.0, query_max_length=24, max_length=120),
    "adore": dict(recipe="adore", lr=5e-6, batch_size=32, epochs=6, warmup_steps=2000, weight_decay=0.01,
                  max_grad_norm=1.0, query_max_length=64, retrieve_depth=200, metric_cut=200),
    "tasb": dict(recipe="tasb", lr=7e-6, batch_size=256, weight_decay=0.0, query_max_length=30, max_length=200),
    "pair-pretrain": dict(recipe="pair", pair_alpha=0.1, lr=3e-5, batch_size=512, epochs=10, warmup_ratio=0.1,
                          weight_decay=0.0, negatives=1, query_max_length=32, max_length=128),
    "pair": dict(recipe="pair", pair_alpha=0.0, lr=3e-5, batch_size=512, epochs=10, warmup_ratio=0.1,
                 weight_decay=0.0, negatives=1, query_max_length=32, max_length=128),
    "simlm": dict(recipe="simlm", lr=3e-5, batch_size=16, negatives=23, temperature=0.02, kl_weight=0.2, epochs=6,
                  warmup_steps=1000, weight_decay=0.0, query_max_length=32, max_length=144),
    "simlm-pretrain": dict(recipe="simlm-pretrain", lr=3e-4, batch_size=64, grad_accum=4, max_steps=80000,
                           warmup_steps=4000, weight_decay=0.0, max_length=144),
    "cross-encoder": dict(recipe="cross-encoder", lr=3e-5, batch_size=8, negatives=63, epochs=3, warmup_steps=1000,
                          weight_decay=0.0, max_length=192),
}

SOURCES = {
    "ance-warmup": "microsoft/ANCE commands/run_train_warmup.sh (drivers/run_warmup.py defaults)",
    "ance": "microsoft/ANCE commands/run_train.sh, Passage ANCE(FirstP); run_ann_data_gen.sh (--topk_training 200); "
            "drivers/run_ann.py (--max_query_length 64, weight decay 0)",
    "star": "jingtaozhan/DRhard README.md (star/train.py command); star/train.py defaults (batch 256, weight decay "
            "0.01, warmup 1000 steps, hard_num=1); star/prepare_hardneg.py --topk 200",
    "adore": "jingtaozhan/DRhard adore/train.py defaults; README.md (--metric_cut 200 for passages)",
    "tasb": "sebastian-hofstaetter/matchmaker config/train/defaults.yaml (Adam, lr 7e-6, weight decay 0), "
            "config/huggingface_modelhub/.../distilbert-dot-tas_b-b256-msmarco.yaml (30/200 tokens, batch 256 = b256)",
    "pair-pretrain": "PaddlePaddle/Research NLP/ACL2021-PAIR run_marco.sh (Pre-Training), "
                     "model/script/run_dual_encoder_train.sh, model/src/finetune/dual_encoder.py (alpha = 0.1)",
    "pair": "PaddlePaddle/Research NLP/ACL2021-PAIR run_marco.sh (Fine-Tuning: is_pretrain false, no passage-centric "
            "loss), model/script/run_dual_encoder_train.sh",
    "simlm": "microsoft/unilm simlm/scripts/train_kd_biencoder.sh",
    "simlm-pretrain": "microsoft/unilm simlm/scripts/train_rlm.sh",
    "cross-encoder": "microsoft/unilm simlm/scripts/train_reranker_marco.sh (SimLM's teacher)",
}

DEVIATIONS = {
    "ance-warmup": LAMB,
    "ance": LAMB + "; 4 GPUs x 8 queries, accumulated twice",
    "star": LAMB + "; epochs left to --epochs/--max-steps (DRhard sets 100 and stops by hand near 50k steps)",
    "adore": "",
    "tasb": "epochs left to --epochs (matchmaker: at least 300k steps, early stopping on dev)",
    "pair-pretrain": LAMB + "; 512 queries per GPU on 8 GPUs with cross-batch negatives in the reference",
    "pair": LAMB + "; 512 queries per GPU on 8 GPUs with cross-batch negatives in the reference",
    "simlm": "16 queries per GPU in the reference (GPU count not in the script)",
    "simlm-pretrain": "64 per GPU in the reference (GPU count not in the script); an MLM stands in for the ELECTRA "
                      "generator (docs/methods.md)",
    "cross-encoder": "the reference fine-tunes ELECTRA-base with R-Drop; ours BERT_CAT over --model, no R-Drop",
}


def preset_values(name: str) -> dict:
    """The option values of preset ``name`` (a copy)."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r} (one of {', '.join(sorted(PRESETS))})")
    return dict(PRESETS[name])
