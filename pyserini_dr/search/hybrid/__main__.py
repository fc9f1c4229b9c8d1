"""python -m pyserini_dr.search.hybrid dense --index ... [--encoder ...] sparse --index ... fusion --alpha A
    [--normalization] [--weight-on-dense] [--method interpolation|rrf] run --topics ... --output ... [--hits N]

Pyserini's hybrid command: the same sections, flags and scores as ``python -m pyserini.search.hybrid``.
"""
from __future__ import annotations

import argparse
import sys
import time

from ...cli import run_main
from ...data.registry import resolve_topics
from ...data.runs import write_run
from ...errors import InputError
from ..faiss.__main__ import add_dense_args, dense_searcher
from ..lucene.__main__ import add_output_args, bm25_searcher
from . import FUSION_METHODS, HybridSearch

SECTIONS = ("dense", "sparse", "fusion", "run")


def section_parsers() -> dict[str, argparse.ArgumentParser]:
    dense = argparse.ArgumentParser(prog="... dense")
    add_dense_args(dense)
    sparse = argparse.ArgumentParser(prog="... sparse")
    sparse.add_argument("--index", required=True, help="Lucene index directory or prebuilt name")
    sparse.add_argument("--k1", type=float, default=0.9)
    sparse.add_argument("--b", type=float, default=0.4)
    sparse.add_argument("--fields", nargs="+", help="multifield boosts, e.g. contents=1.0 title=1.0")
    fusion = argparse.ArgumentParser(prog="... fusion")
    fusion.add_argument("--alpha", type=float, default=0.1, help="weight of the sparse score (pyserini semantics)")
    fusion.add_argument("--hits", type=int, default=1000, help="hits taken from the dense and the sparse list (k0)")
    fusion.add_argument("--normalization", action="store_true")
    fusion.add_argument("--weight-on-dense", action="store_true", help="alpha weighs the dense score instead")
    fusion.add_argument("--method", choices=FUSION_METHODS, default="interpolation")
    fusion.add_argument("--rrf-k", type=int, default=60)
    run = argparse.ArgumentParser(prog="... run")
    run.add_argument("--topics", required=True)
    run.add_argument("--batch-size", type=int, default=256)
    run.add_argument("--threads", type=int, default=1)
    add_output_args(run)
    return {"dense": dense, "sparse": sparse, "fusion": fusion, "run": run}


def split_sections(argv: list[str]) -> dict[str, list[str]]:
    """argv -> {section: its arguments}; every section but fusion is required, in any order."""
    parts: dict[str, list[str]] = {}
    current = None
    for token in argv:
        if token in SECTIONS:
            if token in parts:
                raise InputError(f"section {token!r} given twice")
            current = parts.setdefault(token, [])
        elif current is None:
            raise InputError(f"expected a section ({', '.join(SECTIONS)}) before {token!r}")
        else:
            current.append(token)
    missing = [s for s in ("dense", "sparse", "run") if s not in parts]
    if missing:
        raise InputError(f"missing section(s): {', '.join(missing)} (usage: dense ... sparse ... fusion ... run ...)")
    parts.setdefault("fusion", [])
    return parts


def parse(argv: list[str] | None) -> dict[str, argparse.Namespace]:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        for name, parser in section_parsers().items():
            print(f"\n[{name}]\n" + parser.format_help().split("\n", 2)[-1])
        raise SystemExit(0)
    parsers = section_parsers()
    return {name: parsers[name].parse_args(args) for name, args in split_sections(argv).items()}


def main(argv=None) -> int:
    args = parse(argv)
    started = time.time()
    topics = resolve_topics(args["run"].topics)
    sparse = bm25_searcher(args["sparse"])
    searcher = HybridSearch(dense_searcher(args["dense"]), sparse)
    f, r = args["fusion"], args["run"]
    run = searcher.batch_search(topics, k0=f.hits, hits=r.hits, alpha=f.alpha, normalization=f.normalization,
                                weight_on_dense=f.weight_on_dense, method=f.method, rrf_k=f.rrf_k,
                                batch_size=r.batch_size, threads=r.threads, remove_query=r.remove_query)
    lines = write_run(run, r.output, output_format=r.output_format, tag=r.run_tag or "pyserini-dr-hybrid")
    print(f"hybrid ({f.method}) searched {len(topics):,} topics ({lines:,} hits) in {time.time() - started:.1f}s "
          f"-> {r.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
