"""python -m pyserini_dr.index.lucene --dataset NAME | --corpus FILE --index DIR [--fields]
python -m pyserini_dr.index.lucene --dense --hnsw|--flat --input DENSE_DIR | --dataset NAME --encoder M --index DIR

A Lucene inverted index for BM25, or, with ``--dense``, a Lucene flat or HNSW (int8 with ``-quantize.int8``) index
of dense vectors built by Anserini from one of our dense index directories, or from a corpus encoded on the way.
"""
from __future__ import annotations

import os
import shutil
import sys
import time

from ...cli import ArgumentParser, options_from, positive, pyserini_flags, run_main
from ...data.corpus import has_titles
from ...data.registry import resolve_corpus
from ...encode.options import add_encoder_args, encoder_flags_given
from ...errors import InputError
from . import LuceneIndexBuilder

DENSE_ONLY = ("hnsw", "flat", "M", "efC", "int8", "shards")
# Anserini's IndexCollection options (Pyserini's index.lucene), beside our own flags
ANALYZER = "only Anserini's default English analyzer"
TWEETS = "tweet collections are not supported"
PYSERINI_INDEX_FLAGS = dict(
    refused={"--analyzeWithHuggingFaceTokenizer": ANALYZER, "--useAutoCompositeAnalyzer": ANALYZER,
             "--useCompositeAnalyzer": ANALYZER, "--keepStopwords": ANALYZER, "--stopwords": ANALYZER,
             "--pretokenized": ANALYZER, "--append": "an index is built whole, not appended to",
             "--bm25.accurate": "AccurateBM25Similarity is not supported",
             "--impact": "impact (learned sparse) indexes are not supported",
             "--shard.count": "sharded BM25 indexes are not supported",
             "--shard.current": "sharded BM25 indexes are not supported",
             "--whitelist": "docid whitelists are not supported",
             "--options": "prints Anserini's options: see --help",
             **dict.fromkeys(["--tweet.deletedIdsFile", "--tweet.keepRetweets", "--tweet.keepUrls", "--tweet.maxId",
                              "--tweet.stemming"], TWEETS)},
    only={"--generator": (("DefaultLuceneDocumentGenerator",), "documents are made by Anserini's default generator"),
          "--language": (("en",), ANALYZER), "--stemmer": (("porter",), ANALYZER)},
    no_op={"--uniqueDocid": (0, "a corpus that holds a docid twice is refused anyway (one error line)"),
           "--storePositions": (0, "positions are always stored"),
           "--storeDocvectors": (0, "document vectors are always stored"),
           "--storeRaw": (0, "raw documents are always stored"),
           "--memoryBuffer": (1, "indexing memory only"), "--quiet": ("?", "logging only"),
           "--verbose": ("?", "logging only")},
    single_dash=True)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m pyserini_dr.index.lucene", description=__doc__.split("\n\n")[-1])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="dataset name, e.g. beir-v1.0.0-scifact")
    source.add_argument("--corpus", help="corpus file: BEIR corpus.jsonl or JsonCollection jsonl")
    source.add_argument("--input", "-input", help="a corpus (as --corpus: a file, or Pyserini's JsonCollection "
                        "directory of one .jsonl file); with --dense: a dense index directory (ours, or Pyserini's "
                        "index + docid)")
    parser.add_argument("--index", "-index", required=True, help="output index directory")
    parser.add_argument("--collection", "-collection", metavar="CLASS",
                        help="Anserini's collection class: JsonCollection, BeirFlatCollection, or "
                        "BeirMultifieldCollection (with -fields title); default: the corpus as it is")
    parser.add_argument("--fields", "-fields", nargs="*", metavar="title", default=None,
                        help="multifield: index title and text separately (search with --fields contents=1 title=1); "
                        "Anserini's -fields title says the same")
    parser.add_argument("--threads", "-threads", type=positive, default=1)
    parser.add_argument("--storeContents", "-storeContents", dest="store_contents", action="store_true",
                        help="store each document's contents too (Anserini's flag)")
    dense = parser.add_argument_group("dense vectors (Anserini's IndexFlatDenseVectors / IndexHnswDenseVectors)")
    dense.add_argument("--dense", action="store_true", help="index dense vectors")
    kind = dense.add_mutually_exclusive_group()
    kind.add_argument("--hnsw", action="store_true", help="an HNSW index (default)")
    kind.add_argument("--flat", action="store_true", help="a flat index (exact search)")
    dense.add_argument("-M", "--M", type=positive, default=None, help="HNSW M (16)")
    dense.add_argument("-efC", "--efC", "--ef-construction", dest="efC", type=positive, default=None,
                       help="HNSW efConstruction (100)")
    dense.add_argument("-quantize.int8", "--quantize.int8", dest="int8", action="store_true",
                       help="int8 scalar-quantized vectors")
    dense.add_argument("--shards", type=positive, default=None, help="split the rows into N Lucene indexes")
    dense.add_argument("-optimize", "--optimize", action="store_true", help="merge each index into one segment")
    add_encoder_args(parser, defaults_from_index=True)
    pyserini_flags(parser, **PYSERINI_INDEX_FLAGS)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.fields and set(args.fields) != {"title"}:
        raise InputError(f"--fields: unsupported Pyserini flag (only the title field; got {' '.join(args.fields)!r})")
    check_collection(args.collection, args.fields is not None)

    started = time.time()
    if args.dense:
        return index_dense(args, started)
    given = [f"--{name}" for name in DENSE_ONLY if getattr(args, name) not in (None, False)]
    given += encoder_flags_given(args)
    if args.input and os.path.isfile(os.path.join(args.input, "docid")):  # a dense index directory, not a corpus
        given.append("--input")
    if given:
        raise InputError(f"{given[0]} applies to dense indexes: add --dense")
    corpus = resolve_corpus(args.dataset or args.corpus or args.input)
    if args.collection == "JsonCollection" and args.fields is None and has_titles(corpus):
        raise InputError("--collection JsonCollection: Anserini indexes `contents` alone, and these documents have "
                         "titles, which would be indexed here: add -fields title (multifield) or drop the titles")
    stats = LuceneIndexBuilder(multifield=args.fields is not None, threads=args.threads,
                               store_contents=args.store_contents, optimize=args.optimize).build(corpus, args.index)
    skipped = (f"; {stats.not_indexed:,} with empty contents not indexed (Anserini skips them, as in Pyserini's "
               "indexes)") if stats.not_indexed else ""
    print(f"indexed {stats} into {args.index} in {time.time() - started:.1f}s{skipped}", file=sys.stderr)
    return 0


def check_collection(collection: str | None, multifield: bool) -> None:
    """Anserini's collection classes that give the index we build: BeirFlatCollection (contents = title + text),
    BeirMultifieldCollection with -fields title (contents = text, and a title field), JsonCollection."""
    known = ("JsonCollection", "BeirFlatCollection", "BeirMultifieldCollection")
    if collection is not None and collection not in known:
        raise InputError(f"--collection: unsupported Pyserini flag ({', '.join(known)} only; got {collection!r})")
    if collection == "BeirFlatCollection" and multifield:
        raise InputError("--collection: unsupported Pyserini flag (BeirFlatCollection with -fields title)")
    if collection == "BeirMultifieldCollection" and not multifield:
        raise InputError("--collection: unsupported Pyserini flag (BeirMultifieldCollection needs -fields title "
                         "here)")


def index_dense(args, started: float) -> int:
    from .dense import LuceneDenseIndexBuilder

    if args.fields is not None or args.store_contents:
        raise InputError(f"{'--fields' if args.fields is not None else '--storeContents'} applies to BM25 indexes, "
                         "not --dense")
    if args.flat and (args.M or args.efC):
        raise InputError("-M and -efC are HNSW parameters: drop them or use --hnsw")
    if os.path.exists(args.index) and (not os.path.isdir(args.index) or os.listdir(args.index)):
        raise InputError(f"index directory {args.index} exists and is not empty; remove it or pick another")
    builder = LuceneDenseIndexBuilder(hnsw=not args.flat, m=args.M or 16, ef_construction=args.efC or 100,
                                      int8=args.int8, shards=args.shards or 1, threads=args.threads,
                                      optimize=args.optimize)
    vectors = args.input
    if vectors is None:  # encode the corpus first, beside the output (resumable), then drop those vectors
        vectors = encode_beside(args)
    elif args.encoder:
        raise InputError("--encoder applies to --dataset/--corpus; a dense index directory records its encoder")
    meta = builder.build(vectors, args.index)
    if vectors != args.input:
        shutil.rmtree(vectors)
    lucene = meta["lucene"]
    shape = f"HNSW M={lucene['M']} efC={lucene['efC']}" if builder.hnsw else "flat"
    print(f"indexed {meta['documents']:,} vectors ({meta['dimension']} dims, {shape}"
          f"{', int8' if lucene['int8'] else ''}, {lucene['shards']} shard(s)) into {args.index} in "
          f"{time.time() - started:.1f}s", file=sys.stderr)
    return 0


def encode_beside(args) -> str:
    from ...encode.corpus import CorpusEncoder
    from ...encode.options import EncoderOptions, build_encoder

    if not args.encoder:
        raise InputError("--dense from a corpus needs --encoder (or give --input DENSE_INDEX_DIR)")
    corpus = resolve_corpus(args.dataset or args.corpus)
    parent, name = os.path.split(os.path.abspath(args.index))
    vectors = os.path.join(parent, f".{name}.vectors")
    if os.path.isfile(os.path.join(vectors, "meta.json")):
        return vectors  # a rerun after the Lucene step failed: the vectors are done
    encoder = build_encoder(options_from(args, EncoderOptions), corpus=True)
    CorpusEncoder(encoder).encode(corpus, vectors, corpus_name=args.dataset or corpus)
    return vectors


if __name__ == "__main__":
    run_main(main)
