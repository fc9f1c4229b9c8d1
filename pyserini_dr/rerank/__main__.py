"""python -m pyserini_dr.rerank --model DIR --topics NAME|FILE --run RUN --dataset NAME|--corpus FILE --output OUT

Re-ranks the top ``--hits`` of each query of a run with a cross-encoder; the output (a TREC run of the
cross-encoder's scores) is also the teacher-scores file of the distillation recipes.
"""
from __future__ import annotations

import time

from ..cli import ArgumentParser, device, output_file, positive, run_main
from ..progress import progress
from ..data.registry import resolve_corpus
from ..errors import InputError


def main(argv=None) -> int:
    import torch

    from ..cli import options_from
    from ..data.corpus import read_passages
    from . import CrossEncoder
    from .options import PairOptions, add_pair_args
    from .pairs import pairs_to_score, write_scores

    p = ArgumentParser(prog="python -m pyserini_dr.rerank", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="cross-encoder checkpoint (name or directory)")
    add_pair_args(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus")
    source.add_argument("--dataset")
    p.add_argument("--output", type=output_file, required=True)
    p.add_argument("--batch-size", type=positive, default=256)
    p.add_argument("--max-length", type=positive, default=None)
    p.add_argument("--device", type=device, default=None)
    p.add_argument("--bf16", action="store_true")
    args = p.parse_args(argv)

    pairs = options_from(args, PairOptions)
    started = time.time()
    topics, run = pairs_to_score(pairs)
    depth = max((len(h) for h in run.values()), default=0)
    corpus = read_passages(resolve_corpus(args.dataset or args.corpus))
    missing = next((d for hits in run.values() for d, _ in hits if d not in corpus), None)
    if missing is not None:
        raise InputError(f"{pairs.source} names document {missing!r}, which is not in the corpus")
    model = CrossEncoder(args.model, device=args.device or ("cuda" if torch.cuda.is_available() else "cpu"),
                         max_length=args.max_length)
    with progress(total=len(run), desc="rerank", unit="query") as bar:
        reranked = model.rerank(topics, run, corpus, depth=depth, batch_size=args.batch_size,
                                autocast_dtype=torch.bfloat16 if args.bf16 else None, progress=bar.update)
    write_scores(reranked, pairs, args.output, started, tag="pyserini-dr-rerank", verb="re-ranked")
    return 0


if __name__ == "__main__":
    run_main(main)
