"""The hybrid command's sections (``dense ... sparse ... fusion ... run ...``, as ``pyserini.search.hybrid`` takes
them): one parser a section, and the split of a command line into sections."""
from __future__ import annotations

import argparse

from ..faiss.options import add_dense_args
from ..lucene.options import PYSERINI_LUCENE_FLAGS, add_bm25_args
from ..options import add_output_args
from . import FUSION_METHODS
from ...cli import ArgumentParser, finite, non_negative, positive, pyserini_flags
from ...cli import split_sections as cli_split_sections

SECTIONS = ("dense", "sparse", "fusion", "run")


def section_parsers() -> dict[str, argparse.ArgumentParser]:
    dense = ArgumentParser(prog="... dense")
    add_dense_args(dense)
    pyserini_flags(dense, refused={"--normalize-distances": "Pyserini's hybrid ignores it: scores are not rescaled"})
    sparse = ArgumentParser(prog="... sparse")
    add_bm25_args(sparse)
    pyserini_flags(sparse, **PYSERINI_LUCENE_FLAGS)
    # the rest of search.lucene's flags, which Pyserini's sparse section takes and ignores
    pyserini_flags(sparse, refused={
        **dict.fromkeys(["--dense", "--hnsw", "--flat", "--ef-search", "--encoder"], "the sparse side is BM25"),
        **dict.fromkeys(["--hits", "--topics-format", "--output-format", "--output", "--max-passage",
                         "--max-passage-hits", "--max-passage-delimiter", "--batch-size", "--threads",
                         "--remove-duplicates", "--remove-query"],
                        "Pyserini's hybrid ignores it here: give it in the run section")},
        no_op={"--bm25": (0, "the sparse side is BM25, as in Pyserini's hybrid")})
    fusion = ArgumentParser(prog="... fusion")
    fusion.add_argument("--alpha", type=finite, default=0.1, help="weight of the sparse score (pyserini semantics)")
    fusion.add_argument("--hits", type=positive, default=1000, help="hits taken from the dense and the sparse list (k0)")
    fusion.add_argument("--normalization", action="store_true")
    fusion.add_argument("--weight-on-dense", action="store_true", help="alpha weighs the dense score instead")
    fusion.add_argument("--method", choices=FUSION_METHODS, default="interpolation")
    fusion.add_argument("--rrf-k", type=non_negative, default=60)
    run = ArgumentParser(prog="... run")
    run.add_argument("--topics", required=True)
    run.add_argument("--batch-size", type=positive, default=256)
    run.add_argument("--threads", type=positive, default=1)
    add_output_args(run)
    return {"dense": dense, "sparse": sparse, "fusion": fusion, "run": run}


def split_sections(argv: list[str]) -> dict[str, list[str]]:
    """argv -> {section: its arguments}; every section but fusion is required, in any order."""
    parts = cli_split_sections(argv, SECTIONS, ("dense", "sparse", "run"), "dense ... sparse ... fusion ... run ...")
    parts.setdefault("fusion", [])
    return parts
